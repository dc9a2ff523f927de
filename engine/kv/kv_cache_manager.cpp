#include "engine/kv/kv_cache_manager.hpp"

#include <algorithm>
#include <cassert>

namespace llmd::engine::kv {

KvCacheManager::KvCacheManager(int32_t n_blocks, int32_t block_size) : pool_(n_blocks, block_size) {}

PrefixMatch KvCacheManager::match_prefix(const BlockHash& root, std::span<const int32_t> tokens,
                                         int32_t max_tokens) const {
  PrefixMatch m;
  const int32_t bs = block_size();
  const int32_t limit = std::min<int32_t>(max_tokens, static_cast<int32_t>(tokens.size()));
  BlockHash parent = root;
  for (int32_t i = 0; (i + 1) * bs <= limit; ++i) {
    const auto chunk = tokens.subspan(static_cast<size_t>(i) * static_cast<size_t>(bs), static_cast<size_t>(bs));
    const BlockHash h = hash_block(parent, chunk);
    const int32_t b = pool_.find(h, parent, chunk);
    if (b < 0) break;
    m.blocks.push_back(b);
    m.hashes.push_back(h);
    parent = h;
  }
  m.n_tokens = static_cast<int32_t>(m.blocks.size()) * bs;
  return m;
}

int32_t KvCacheManager::blocks_needed(const BlockTable& table, int32_t n_tokens) const {
  return std::max(0, blocks_for(n_tokens) - static_cast<int32_t>(table.blocks.size()));
}

bool KvCacheManager::can_attach(const PrefixMatch& match, int32_t n_tokens) const {
  // Matched blocks nobody references sit on the free side; taking them
  // shrinks what allocate() can hand out.
  int32_t idle_matched = 0;
  for (int32_t b : match.blocks) idle_matched += pool_.ref_count(b) == 0 ? 1 : 0;
  const int32_t fresh = std::max(0, blocks_for(n_tokens) - static_cast<int32_t>(match.blocks.size()));
  return fresh <= pool_.num_free() - idle_matched;
}

bool KvCacheManager::attach(BlockTable& table, const PrefixMatch& match, int32_t n_tokens) {
  assert(table.blocks.empty() && table.hashes.empty());
  if (!can_attach(match, n_tokens)) return false;
  for (int32_t b : match.blocks) pool_.acquire(b);
  table.blocks = match.blocks;
  table.hashes = match.hashes;
  prefix_hit_tokens_ += static_cast<uint64_t>(match.n_tokens);
  const bool ok = reserve(table, n_tokens);
  assert(ok);
  return ok;
}

bool KvCacheManager::reserve(BlockTable& table, int32_t n_tokens) {
  const int32_t need = blocks_needed(table, n_tokens);
  if (need > pool_.num_free()) return false;
  for (int32_t i = 0; i < need; ++i) {
    const int32_t b = pool_.allocate();
    assert(b >= 0);
    table.blocks.push_back(b);
  }
  return true;
}

void KvCacheManager::commit(BlockTable& table, std::span<const int32_t> tokens, int32_t n_computed) {
  const int32_t bs = block_size();
  assert(n_computed <= static_cast<int32_t>(tokens.size()));
  const int32_t n_full = std::min<int32_t>(n_computed / bs, static_cast<int32_t>(table.blocks.size()));
  for (int32_t i = static_cast<int32_t>(table.hashes.size()); i < n_full; ++i) {
    const BlockHash parent = i == 0 ? table.root : table.hashes[static_cast<size_t>(i) - 1];
    const auto chunk = tokens.subspan(static_cast<size_t>(i) * static_cast<size_t>(bs), static_cast<size_t>(bs));
    const BlockHash h = hash_block(parent, chunk);
    table.hashes.push_back(h);
    const int32_t b = table.blocks[static_cast<size_t>(i)];
    // A duplicate of a block computed concurrently by another sequence stays
    // private; the first one is the one the cache remembers.
    if (!pool_.is_cached(b)) pool_.register_block(b, h, parent, chunk);
  }
}

void KvCacheManager::release(BlockTable& table) {
  for (auto it = table.blocks.rbegin(); it != table.blocks.rend(); ++it) pool_.release(*it);
  table.blocks.clear();
  table.hashes.clear();
}

bool KvCacheManager::fork(const BlockTable& src, int32_t n_computed, BlockTable& dst, BlockCopy* copy) {
  assert(dst.blocks.empty());
  const int32_t bs = block_size();
  const int32_t n_full = n_computed / bs;
  const bool tail = n_computed % bs != 0;
  assert(blocks_for(n_computed) <= static_cast<int32_t>(src.blocks.size()));
  int32_t fresh = -1;
  if (tail) {
    fresh = pool_.allocate();
    if (fresh < 0) return false;
  }
  dst.root = src.root;
  dst.blocks.assign(src.blocks.begin(), src.blocks.begin() + n_full);
  for (int32_t b : dst.blocks) pool_.acquire(b);
  dst.hashes.assign(src.hashes.begin(), src.hashes.begin() + std::min<int32_t>(n_full, static_cast<int32_t>(src.hashes.size())));
  if (tail) {
    dst.blocks.push_back(fresh);
    if (copy) *copy = BlockCopy{src.blocks[static_cast<size_t>(n_full)], fresh};
  } else if (copy) {
    *copy = BlockCopy{};
  }
  return true;
}

}  // namespace llmd::engine::kv
