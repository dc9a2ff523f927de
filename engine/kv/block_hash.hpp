// 128-bit content hashes that identify full KV blocks for prefix caching.
//
// A full block is named by a chain: hash(block i) = H(hash(block i-1), tokens of
// block i), and block 0's parent is the hash of the cache salt. Two sequences
// therefore share a block only when their whole prefix up to and including that
// block is identical and they carry the same salt. The hash is not
// cryptographic; the block pool compares token ids and parent hashes on every
// hit, so a collision can only cost a cache miss, never a wrong answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace llmd::engine::kv {

struct BlockHash {
  uint64_t lo = 0;
  uint64_t hi = 0;

  friend bool operator==(const BlockHash&, const BlockHash&) = default;
};

// For std::unordered_map keys: the value is already well mixed.
struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const noexcept { return static_cast<size_t>(h.lo ^ (h.hi * 0x9e3779b97f4a7c15ULL)); }
};

// Root of a chain: the hash of a cache salt (a team's salt, or a salt shared by
// configuration). Different salts give unrelated chains.
BlockHash hash_salt(std::string_view salt);

// Hash of one full block given its parent's hash (the salt root for block 0).
BlockHash hash_block(const BlockHash& parent, std::span<const int32_t> tokens);

}  // namespace llmd::engine::kv
