#include "engine/kv/block_pool.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace llmd::engine::kv {
namespace {

constexpr int32_t kBs = 4;

std::vector<int32_t> toks(int32_t start) {
  std::vector<int32_t> v(kBs);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Registers block b as a full block with tokens start..start+3 under a chain root.
BlockHash cache(BlockPool& pool, int32_t b, int32_t start, const BlockHash& parent) {
  const auto t = toks(start);
  const BlockHash h = hash_block(parent, t);
  EXPECT_TRUE(pool.register_block(b, h, parent, t));
  return h;
}

TEST(BlockPool, AllocatesEveryBlockOnceThenRefuses) {
  BlockPool pool(5, kBs);
  EXPECT_EQ(pool.num_free(), 5);
  std::vector<int32_t> got;
  for (int i = 0; i < 5; ++i) got.push_back(pool.allocate());
  EXPECT_EQ(pool.allocate(), -1);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pool.num_used(), 5);
  EXPECT_EQ(pool.num_free(), 0);
  for (int32_t b : got) EXPECT_EQ(pool.ref_count(b), 1);
  pool.release(got[2]);
  EXPECT_EQ(pool.num_used(), 4);
  EXPECT_EQ(pool.allocate(), got[2]);
}

TEST(BlockPool, SharedBlocksFreeOnLastRelease) {
  BlockPool pool(2, kBs);
  const int32_t b = pool.allocate();
  pool.acquire(b);
  pool.acquire(b);
  EXPECT_EQ(pool.ref_count(b), 3);
  EXPECT_EQ(pool.num_used(), 1);
  pool.release(b);
  pool.release(b);
  EXPECT_EQ(pool.num_used(), 1);
  pool.release(b);
  EXPECT_EQ(pool.num_used(), 0);
  EXPECT_EQ(pool.num_free(), 2);
}

TEST(BlockPool, FindVerifiesHashParentAndTokens) {
  BlockPool pool(4, kBs);
  const BlockHash root = hash_salt("t");
  const int32_t b = pool.allocate();
  const BlockHash h = cache(pool, b, 100, root);
  EXPECT_TRUE(pool.is_cached(b));
  EXPECT_EQ(pool.num_cached(), 1);
  EXPECT_EQ(pool.find(h, root, toks(100)), b);
  // Same hash but other tokens (a forged collision) or another parent: miss.
  EXPECT_EQ(pool.find(h, root, toks(101)), -1);
  EXPECT_EQ(pool.find(h, hash_salt("u"), toks(100)), -1);
  EXPECT_EQ(pool.find(hash_block(hash_salt("u"), toks(100)), hash_salt("u"), toks(100)), -1);
  // Wrong length never matches.
  EXPECT_EQ(pool.find(h, root, std::vector<int32_t>{100, 101, 102}), -1);
  // A second block under the same hash is refused and stays private.
  const int32_t b2 = pool.allocate();
  EXPECT_FALSE(pool.register_block(b2, h, root, toks(100)));
  EXPECT_FALSE(pool.is_cached(b2));
  // Registering twice is refused too.
  EXPECT_FALSE(pool.register_block(b, hash_block(root, toks(7)), root, toks(7)));
}

TEST(BlockPool, EvictsLeastRecentlyReleasedAfterFreeBlocks) {
  BlockPool pool(4, kBs);
  const BlockHash root = hash_salt("t");
  const int32_t a = pool.allocate(), b = pool.allocate(), c = pool.allocate(), d = pool.allocate();
  const BlockHash ha = cache(pool, a, 0, root);
  const BlockHash hb = cache(pool, b, 10, root);
  const BlockHash hc = cache(pool, c, 20, root);
  pool.release(b);  // release order b, a, c; d stays uncached
  pool.release(a);
  pool.release(c);
  pool.release(d);
  EXPECT_EQ(pool.num_evictable(), 3);
  EXPECT_EQ(pool.num_cached(), 3);
  EXPECT_EQ(pool.num_used(), 0);
  EXPECT_EQ(pool.num_free(), 4);

  // A hit on b takes it off the eviction list; its release puts it last.
  EXPECT_EQ(pool.find(hb, root, toks(10)), b);
  pool.acquire(b);
  EXPECT_EQ(pool.num_evictable(), 2);
  EXPECT_EQ(pool.num_used(), 1);
  pool.release(b);  // order now a, c, b

  EXPECT_EQ(pool.allocate(), d);  // the uncached free block goes first
  EXPECT_EQ(pool.num_evictions(), 0u);
  EXPECT_EQ(pool.allocate(), a);  // then least recently released
  EXPECT_EQ(pool.find(ha, root, toks(0)), -1);
  EXPECT_FALSE(pool.is_cached(a));
  EXPECT_EQ(pool.allocate(), c);
  EXPECT_EQ(pool.find(hc, root, toks(20)), -1);
  EXPECT_EQ(pool.find(hb, root, toks(10)), b);  // still cached
  EXPECT_EQ(pool.allocate(), b);
  EXPECT_EQ(pool.allocate(), -1);
  EXPECT_EQ(pool.num_evictions(), 3u);
  EXPECT_EQ(pool.num_cached(), 0);
  EXPECT_EQ(pool.num_evictable(), 0);
}

TEST(BlockPool, ReferencedCachedBlocksAreNeverEvicted) {
  BlockPool pool(2, kBs);
  const BlockHash root = hash_salt("t");
  const int32_t a = pool.allocate();
  const BlockHash ha = cache(pool, a, 0, root);
  const int32_t b = pool.allocate();
  pool.release(b);
  EXPECT_EQ(pool.allocate(), b);
  EXPECT_EQ(pool.allocate(), -1);  // a is referenced: not evictable
  EXPECT_EQ(pool.find(ha, root, toks(0)), a);
}

TEST(BlockPool, DropEvictableForgetsOnlyUnreferencedBlocks) {
  BlockPool pool(3, kBs);
  const BlockHash root = hash_salt("t");
  const int32_t a = pool.allocate(), b = pool.allocate();
  const BlockHash ha = cache(pool, a, 0, root);
  const BlockHash hb = cache(pool, b, 4, ha);
  pool.release(b);
  pool.drop_evictable();
  EXPECT_EQ(pool.find(hb, ha, toks(4)), -1);
  EXPECT_EQ(pool.find(ha, root, toks(0)), a);
  EXPECT_EQ(pool.num_cached(), 1);
  EXPECT_EQ(pool.num_evictable(), 0);
  EXPECT_EQ(pool.num_free(), 2);
}

}  // namespace
}  // namespace llmd::engine::kv
