#include "engine/kv/block_pool.hpp"

#include <algorithm>
#include <cassert>

namespace llmd::engine::kv {

BlockPool::BlockPool(int32_t n_blocks, int32_t block_size)
    : block_size_(block_size),
      blocks_(static_cast<size_t>(std::max(n_blocks, 0))),
      tokens_(static_cast<size_t>(std::max(n_blocks, 0)) * static_cast<size_t>(std::max(block_size, 0))) {
  assert(n_blocks >= 0 && block_size > 0);
  free_stack_.reserve(blocks_.size());
  // Hand out low block ids first (stack top = end).
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_stack_.push_back(b);
}

int32_t BlockPool::allocate() {
  int32_t b = -1;
  if (!free_stack_.empty()) {
    b = free_stack_.back();
    free_stack_.pop_back();
  } else if (lru_head_ >= 0) {
    b = lru_head_;
    lru_unlink(b);
    --num_evictable_;
    uncache(b);
    ++num_evictions_;
  } else {
    return -1;
  }
  Block& blk = blocks_[static_cast<size_t>(b)];
  assert(blk.ref == 0 && !blk.cached);
  blk.ref = 1;
  ++num_used_;
  return b;
}

int32_t BlockPool::find(const BlockHash& hash, const BlockHash& parent, std::span<const int32_t> tokens) const {
  if (static_cast<int32_t>(tokens.size()) != block_size_) return -1;
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  const int32_t b = it->second;
  const Block& blk = blocks_[static_cast<size_t>(b)];
  if (!(blk.parent == parent)) return -1;
  const int32_t* stored = tokens_.data() + static_cast<size_t>(b) * static_cast<size_t>(block_size_);
  if (!std::equal(tokens.begin(), tokens.end(), stored)) return -1;
  return b;
}

void BlockPool::acquire(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  if (blk.ref == 0) {
    // Only cached blocks can be acquired from the free side; a free uncached
    // block is handed out by allocate().
    assert(blk.cached);
    lru_unlink(b);
    --num_evictable_;
    ++num_used_;
  }
  ++blk.ref;
}

void BlockPool::release(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  assert(blk.ref > 0);
  if (--blk.ref > 0) return;
  --num_used_;
  if (blk.cached) {
    lru_push_back(b);
    ++num_evictable_;
  } else {
    free_stack_.push_back(b);
  }
}

bool BlockPool::register_block(int32_t b, const BlockHash& hash, const BlockHash& parent,
                               std::span<const int32_t> tokens) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  assert(blk.ref > 0);
  if (blk.cached || static_cast<int32_t>(tokens.size()) != block_size_) return false;
  if (!by_hash_.emplace(hash, b).second) return false;
  blk.cached = true;
  blk.hash = hash;
  blk.parent = parent;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<ptrdiff_t>(b) * block_size_);
  return true;
}

void BlockPool::drop_evictable() {
  while (lru_head_ >= 0) {
    const int32_t b = lru_head_;
    lru_unlink(b);
    --num_evictable_;
    uncache(b);
    free_stack_.push_back(b);
  }
}

void BlockPool::uncache(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  if (!blk.cached) return;
  by_hash_.erase(blk.hash);
  blk.cached = false;
}

void BlockPool::lru_push_back(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  blk.prev = lru_tail_;
  blk.next = -1;
  if (lru_tail_ >= 0) {
    blocks_[static_cast<size_t>(lru_tail_)].next = b;
  } else {
    lru_head_ = b;
  }
  lru_tail_ = b;
}

void BlockPool::lru_unlink(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  if (blk.prev >= 0) {
    blocks_[static_cast<size_t>(blk.prev)].next = blk.next;
  } else {
    lru_head_ = blk.next;
  }
  if (blk.next >= 0) {
    blocks_[static_cast<size_t>(blk.next)].prev = blk.prev;
  } else {
    lru_tail_ = blk.prev;
  }
  blk.prev = blk.next = -1;
}

}  // namespace llmd::engine::kv
