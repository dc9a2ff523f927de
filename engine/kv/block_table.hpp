// One sequence's view of a KV block pool: which physical blocks hold its
// positions, and the chained hashes of those blocks that are full.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kv/block_hash.hpp"

namespace llmd::engine::kv {

struct BlockTable {
  // Chain root: hash_salt(cache salt). Set before the first attach.
  BlockHash root;
  // blocks[i] holds positions [i * block_size, (i + 1) * block_size).
  std::vector<int32_t> blocks;
  // hashes[i] names blocks[i]; only full blocks whose K/V are computed have one,
  // so hashes.size() <= blocks.size().
  std::vector<BlockHash> hashes;

  std::span<const int32_t> span() const { return blocks; }
  bool empty() const { return blocks.empty(); }
};

}  // namespace llmd::engine::kv
