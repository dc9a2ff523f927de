// Paged KV-cache management over one BlockPool: prefix matching, block
// allocation for new tokens, registration of blocks as they fill, forks that
// share a prefix (n > 1 choices), and release.
//
// Usage by a scheduler, per sequence:
//   match_prefix()  on admission: the longest cached prefix (whole blocks)
//   attach()        takes the matched blocks and allocates room for the first chunk
//   reserve()       before each later step: room for the step's new tokens
//   commit()        after the forward step: registers blocks that became full
//   release()       when the sequence finishes, is aborted or is preempted
// allocation calls are all-or-nothing, so a failed one leaves nothing to undo.
//
// Not thread-safe: owned by one engine loop.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kv/block_pool.hpp"
#include "engine/kv/block_table.hpp"

namespace llmd::engine::kv {

struct PrefixMatch {
  std::vector<int32_t> blocks;     // cached blocks, in order (no references taken)
  std::vector<BlockHash> hashes;   // their chained hashes
  int32_t n_tokens = 0;            // blocks.size() * block_size
};

// A fork whose source ended inside a block: the caller copies the K/V of
// `src` into `dst` before the new sequence runs.
struct BlockCopy {
  int32_t src = -1;
  int32_t dst = -1;
};

class KvCacheManager {
 public:
  KvCacheManager(int32_t n_blocks, int32_t block_size);

  BlockPool& pool() { return pool_; }
  const BlockPool& pool() const { return pool_; }
  int32_t block_size() const { return pool_.block_size(); }
  int32_t blocks_for(int32_t n_tokens) const { return (n_tokens + block_size() - 1) / block_size(); }

  // The longest run of cached full blocks that starts `tokens`, limited to
  // `max_tokens` tokens (a scheduler passes prompt length - 1 so that at least
  // one token is computed and yields logits).
  PrefixMatch match_prefix(const BlockHash& root, std::span<const int32_t> tokens, int32_t max_tokens) const;

  // New blocks the pool must hand out for `table` to cover `n_tokens`.
  int32_t blocks_needed(const BlockTable& table, int32_t n_tokens) const;
  // Whether attach() of `match` covering `n_tokens` would succeed now.
  bool can_attach(const PrefixMatch& match, int32_t n_tokens) const;

  // On an empty table: takes references on the matched blocks and allocates
  // fresh ones so the table covers `n_tokens` (>= match.n_tokens). Returns
  // false and changes nothing when the pool cannot supply them.
  bool attach(BlockTable& table, const PrefixMatch& match, int32_t n_tokens);

  // Grows the table to cover `n_tokens`; false (and no change) when the pool
  // cannot supply the blocks.
  bool reserve(BlockTable& table, int32_t n_tokens);

  // Now that the K/V of tokens[0, n_computed) are written, registers every
  // block that became full so later sequences can reuse it.
  void commit(BlockTable& table, std::span<const int32_t> tokens, int32_t n_computed);

  // Releases all blocks, last first, so that the deepest blocks of a chain are
  // evicted before the prefixes they extend. The table is left empty.
  void release(BlockTable& table);

  // Makes `dst` (empty) share the full blocks of `src`, whose K/V cover
  // `n_computed` tokens. When n_computed ends inside a block, dst gets a fresh
  // block for that tail and `copy` names the K/V copy the caller must do.
  // False (dst unchanged) when no block is free for the tail.
  bool fork(const BlockTable& src, int32_t n_computed, BlockTable& dst, BlockCopy* copy);

  // Prompt tokens served from the cache by attach(), since construction.
  uint64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }

 private:
  BlockPool pool_;
  uint64_t prefix_hit_tokens_ = 0;
};

}  // namespace llmd::engine::kv
