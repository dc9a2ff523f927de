// Bookkeeping of the physical KV blocks of one pool (one model on one device).
//
// The backend owns the storage; this class decides which block is free, which
// is shared by how many sequences (reference counts), and which full blocks are
// remembered for prefix caching. A block is in exactly one of three states:
//
//   used       ref > 0          in a sequence's block table (maybe several)
//   evictable  ref == 0, cached  holds a registered full block nobody uses now;
//                               reusable by a prefix hit, or evicted, least
//                               recently released first, when blocks run out
//   free       ref == 0, not cached
//
// Not thread-safe: it belongs to the one engine loop that runs the model.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv/block_hash.hpp"

namespace llmd::engine::kv {

class BlockPool {
 public:
  BlockPool(int32_t n_blocks, int32_t block_size);

  int32_t n_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  int32_t block_size() const { return block_size_; }

  // Blocks allocate() can hand out: free plus evictable.
  int32_t num_free() const { return n_blocks() - num_used_; }
  // Blocks referenced by at least one sequence.
  int32_t num_used() const { return num_used_; }
  // Blocks registered in the prefix cache, referenced or not.
  int32_t num_cached() const { return static_cast<int32_t>(by_hash_.size()); }
  // Cached blocks nobody references.
  int32_t num_evictable() const { return num_evictable_; }
  // Cached blocks dropped to make room, since construction.
  uint64_t num_evictions() const { return num_evictions_; }

  int32_t ref_count(int32_t b) const { return blocks_[static_cast<size_t>(b)].ref; }
  bool is_cached(int32_t b) const { return blocks_[static_cast<size_t>(b)].cached; }

  // A block with reference count 1 and no hash, or -1 when every block is
  // referenced. Never-cached free blocks go first; after them the least
  // recently released cached block is evicted (its hash forgotten).
  int32_t allocate();

  // The cached block registered under `hash` whose stored parent hash and
  // token ids equal the given ones, or -1. Takes no reference.
  int32_t find(const BlockHash& hash, const BlockHash& parent, std::span<const int32_t> tokens) const;

  // Takes one more reference (a prefix hit, or a fork sharing the block). An
  // evictable block leaves the eviction order.
  void acquire(int32_t b);
  // Drops one reference. At zero a cached block becomes the most recently used
  // evictable block and an uncached one becomes free.
  void release(int32_t b);

  // Remembers a full, referenced, not yet cached block under `hash`, with the
  // parent hash and token ids that find() verifies. Returns false, and leaves
  // the block private, when the hash already names a block.
  bool register_block(int32_t b, const BlockHash& hash, const BlockHash& parent, std::span<const int32_t> tokens);

  // Forgets every evictable block (their KV contents are gone, e.g. after the
  // backend reallocated its storage). Referenced blocks keep their hashes.
  void drop_evictable();

 private:
  struct Block {
    int32_t ref = 0;
    bool cached = false;
    int32_t prev = -1;  // eviction list links, valid while evictable
    int32_t next = -1;
    BlockHash hash;
    BlockHash parent;
  };

  void lru_push_back(int32_t b);
  void lru_unlink(int32_t b);
  void uncache(int32_t b);

  int32_t block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> tokens_;      // [n_blocks][block_size] ids of cached blocks
  std::vector<int32_t> free_stack_;  // free, never-cached (or uncached) blocks
  int32_t lru_head_ = -1;            // least recently released evictable block
  int32_t lru_tail_ = -1;
  int32_t num_used_ = 0;
  int32_t num_evictable_ = 0;
  uint64_t num_evictions_ = 0;
  std::unordered_map<BlockHash, int32_t, BlockHashHasher> by_hash_;
};

}  // namespace llmd::engine::kv
