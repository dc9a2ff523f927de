#include "engine/kv/block_hash.hpp"

#include <cstring>

namespace llmd::engine::kv {
namespace {

// Odd 64-bit constants with well spread bits (fractional parts of irrational
// numbers); the exact values only need to be fixed and odd.
constexpr uint64_t kLaneA = 0x9e3779b97f4a7c15ULL;  // golden ratio
constexpr uint64_t kLaneB = 0xbb67ae8584caa73bULL;  // sqrt(3)
constexpr uint64_t kStepA = 0xa54ff53a5f1d36f1ULL;  // sqrt(5)
constexpr uint64_t kStepB = 0x510e527fade682d1ULL;  // sqrt(7)
constexpr uint64_t kFinal1 = 0x9b05688c2b3e6c1fULL;
constexpr uint64_t kFinal2 = 0x1f83d9abfb41bd6bULL;
constexpr uint64_t kSaltDomain = 0x5be0cd19137e2179ULL;
constexpr uint64_t kBlockDomain = 0x6a09e667f3bcc909ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Full 64x64 -> 128 multiply folded to 64 bits: every input bit influences
// every output bit.
inline uint64_t fold_mul(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

// A bijective avalanche on 64 bits (xor-shift / odd multiply rounds).
inline uint64_t avalanche(uint64_t x) {
  x ^= x >> 32;
  x *= kFinal1;
  x ^= x >> 29;
  x *= kFinal2;
  x ^= x >> 32;
  return x;
}

// Two 64-bit lanes absorb the input one 64-bit word at a time. For a fixed
// input word each lane update is a bijection of the lane, and the word enters
// each lane through a different injective spread, so two inputs collide only
// if both lanes collide at once.
class Hasher128 {
 public:
  Hasher128(uint64_t seed_lo, uint64_t seed_hi, uint64_t domain)
      : a_(seed_lo ^ domain ^ kLaneA), b_(seed_hi ^ rotl(domain, 32) ^ kLaneB) {}

  void absorb(uint64_t w) {
    const uint64_t wa = w * kStepA;
    const uint64_t wb = rotl(w, 31) * kStepB;
    a_ = rotl(a_ ^ (wa ^ (wa >> 29)), 27) * kLaneA + b_;
    b_ = rotl(b_ + (wb ^ (wb >> 31)), 33) * kLaneB ^ a_;
    ++n_;
  }

  BlockHash finish() const {
    const uint64_t a = a_ ^ (n_ * kStepB);
    const uint64_t b = b_ + (n_ * kStepA);
    BlockHash h;
    h.lo = avalanche(fold_mul(a ^ kFinal1, b ^ kFinal2) ^ a);
    h.hi = avalanche(fold_mul(b ^ kStepA, rotl(a, 17) ^ kStepB) ^ b);
    return h;
  }

 private:
  uint64_t a_;
  uint64_t b_;
  uint64_t n_ = 0;
};

}  // namespace

BlockHash hash_salt(std::string_view salt) {
  Hasher128 h(0, 0, kSaltDomain);
  size_t i = 0;
  for (; i + 8 <= salt.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, salt.data() + i, 8);
    h.absorb(w);
  }
  uint64_t tail = 0;
  if (i < salt.size()) std::memcpy(&tail, salt.data() + i, salt.size() - i);
  // The byte length enters with the tail so "a" and "a\0" differ.
  h.absorb(tail);
  h.absorb(static_cast<uint64_t>(salt.size()));
  return h.finish();
}

BlockHash hash_block(const BlockHash& parent, std::span<const int32_t> tokens) {
  Hasher128 h(parent.lo, parent.hi, kBlockDomain);
  h.absorb(parent.lo);
  h.absorb(parent.hi);
  size_t i = 0;
  for (; i + 2 <= tokens.size(); i += 2) {
    const uint64_t w = static_cast<uint64_t>(static_cast<uint32_t>(tokens[i])) |
                       (static_cast<uint64_t>(static_cast<uint32_t>(tokens[i + 1])) << 32);
    h.absorb(w);
  }
  if (i < tokens.size()) h.absorb(static_cast<uint64_t>(static_cast<uint32_t>(tokens[i])) | (1ULL << 63));
  h.absorb(static_cast<uint64_t>(tokens.size()));
  return h.finish();
}

}  // namespace llmd::engine::kv
