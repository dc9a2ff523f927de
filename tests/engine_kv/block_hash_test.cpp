#include "engine/kv/block_hash.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <unordered_set>
#include <vector>

namespace llmd::engine::kv {
namespace {

std::vector<int32_t> random_block(std::mt19937& rng, int n = 16) {
  std::uniform_int_distribution<int32_t> d(0, 150000);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

int differing_bits(const BlockHash& a, const BlockHash& b) {
  return std::popcount(a.lo ^ b.lo) + std::popcount(a.hi ^ b.hi);
}

TEST(BlockHash, DeterministicAndSensitiveToEveryInput) {
  const BlockHash root = hash_salt("team-a");
  EXPECT_EQ(root, hash_salt("team-a"));
  EXPECT_NE(root, hash_salt("team-b"));
  EXPECT_NE(hash_salt(""), hash_salt(std::string_view("\0", 1)));
  EXPECT_NE(hash_salt("a"), hash_salt(std::string_view("a\0", 2)));

  std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const BlockHash h = hash_block(root, t);
  EXPECT_EQ(h, hash_block(root, t));
  EXPECT_NE(h, hash_block(hash_salt("team-b"), t));  // salt
  auto swapped = t;
  std::swap(swapped[0], swapped[1]);
  EXPECT_NE(h, hash_block(root, swapped));  // order
  auto shorter = std::vector<int32_t>(t.begin(), t.end() - 1);
  EXPECT_NE(h, hash_block(root, shorter));  // length
  auto zero_padded = shorter;
  zero_padded.push_back(0);
  EXPECT_NE(hash_block(root, shorter), hash_block(root, zero_padded));
  // Chaining: the same tokens under a different parent give another hash.
  EXPECT_NE(hash_block(h, t), h);
  EXPECT_NE(hash_block(h, t), hash_block(hash_block(h, t), t));
}

TEST(BlockHash, OneBitChangesAvalanche) {
  std::mt19937 rng(7);
  const BlockHash root = hash_salt("salt");
  double total = 0;
  int worst = 128;
  const int trials = 4000;
  for (int i = 0; i < trials; ++i) {
    auto t = random_block(rng);
    const BlockHash a = hash_block(root, t);
    const size_t pos = rng() % t.size();
    t[pos] ^= 1 << (rng() % 31);
    const int d = differing_bits(a, hash_block(root, t));
    total += d;
    worst = std::min(worst, d);
  }
  // A good 128-bit hash flips 64 bits on average (sd 5.7 per trial).
  EXPECT_NEAR(total / trials, 64.0, 1.0);
  EXPECT_GT(worst, 30);

  // The same for a one-bit change of the parent.
  total = 0;
  for (int i = 0; i < trials; ++i) {
    const auto t = random_block(rng);
    BlockHash p{rng() | (uint64_t{rng()} << 32), rng() | (uint64_t{rng()} << 32)};
    const BlockHash a = hash_block(p, t);
    if (i % 2) p.lo ^= 1ULL << (rng() % 64); else p.hi ^= 1ULL << (rng() % 64);
    total += differing_bits(a, hash_block(p, t));
  }
  EXPECT_NEAR(total / trials, 64.0, 1.0);
}

TEST(BlockHash, NoCollisionsAmongManySimilarBlocks) {
  // Blocks that differ in one small token anywhere, and sequential chains.
  std::unordered_set<uint64_t> lo_seen;
  std::unordered_set<BlockHash, BlockHashHasher> seen;
  const BlockHash root = hash_salt("x");
  std::vector<int32_t> t(16, 0);
  for (int pos = 0; pos < 16; ++pos) {
    for (int32_t v = 0; v < 5000; ++v) {
      t.assign(16, 0);
      t[static_cast<size_t>(pos)] = v;
      const BlockHash h = hash_block(root, t);
      seen.insert(h);
      lo_seen.insert(h.lo);
    }
  }
  // 16 positions x 5000 values minus the all-zero block counted 16 times.
  const size_t expected = 16 * 5000 - 15;
  EXPECT_EQ(seen.size(), expected);
  EXPECT_EQ(lo_seen.size(), expected);  // even 64 bits alone do not collide here
}

}  // namespace
}  // namespace llmd::engine::kv
