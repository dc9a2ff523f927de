#include "engine/kv/kv_cache_manager.hpp"

#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace llmd::engine::kv {
namespace {

constexpr int32_t kBs = 4;

std::vector<int32_t> seq(int32_t start, int32_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Runs a whole sequence: attach with its cached prefix, "compute" everything, commit.
BlockTable run(KvCacheManager& m, const BlockHash& root, const std::vector<int32_t>& t, int32_t* hit = nullptr) {
  BlockTable table;
  table.root = root;
  const auto match = m.match_prefix(root, t, static_cast<int32_t>(t.size()) - 1);
  EXPECT_TRUE(m.attach(table, match, static_cast<int32_t>(t.size())));
  m.commit(table, t, static_cast<int32_t>(t.size()));
  if (hit) *hit = match.n_tokens;
  return table;
}

TEST(KvCacheManager, ReusesTheLongestCachedPrefixOfWholeBlocks) {
  KvCacheManager m(32, kBs);
  const BlockHash root = hash_salt("team-a");
  auto a = seq(0, 11);  // blocks [0..3] [4..7] and a partial [8..10]
  BlockTable ta = run(m, root, a);
  EXPECT_EQ(ta.blocks.size(), 3u);
  EXPECT_EQ(ta.hashes.size(), 2u);
  EXPECT_EQ(m.pool().num_cached(), 2);

  // Shares 9 tokens with a: only the two full blocks are reusable.
  auto b = seq(0, 9);
  b.push_back(77);
  b.push_back(78);
  const auto mb = m.match_prefix(root, b, static_cast<int32_t>(b.size()) - 1);
  EXPECT_EQ(mb.n_tokens, 8);
  EXPECT_EQ(mb.blocks, (std::vector<int32_t>{ta.blocks[0], ta.blocks[1]}));

  // Diverging in the first block: nothing.
  auto c = b;
  c[1] = 999;
  EXPECT_EQ(m.match_prefix(root, c, 100).n_tokens, 0);
  // Diverging in the second block: one block.
  auto d = b;
  d[5] = 999;
  EXPECT_EQ(m.match_prefix(root, d, 100).n_tokens, 4);
  // The cap (prompt length - 1) keeps an exact repeat from matching its last block.
  const auto exact = seq(0, 8);
  EXPECT_EQ(m.match_prefix(root, exact, 7).n_tokens, 4);
  EXPECT_EQ(m.match_prefix(root, exact, 8).n_tokens, 8);
  // Another salt never shares.
  EXPECT_EQ(m.match_prefix(hash_salt("team-b"), b, 100).n_tokens, 0);

  BlockTable tb;
  tb.root = root;
  ASSERT_TRUE(m.attach(tb, mb, static_cast<int32_t>(b.size())));
  EXPECT_EQ(m.prefix_hit_tokens(), 8u);
  EXPECT_EQ(m.pool().ref_count(ta.blocks[0]), 2);
  EXPECT_EQ(tb.blocks.size(), 3u);
  EXPECT_NE(tb.blocks[2], ta.blocks[2]);
  m.release(ta);
  m.release(tb);
  EXPECT_EQ(m.pool().num_used(), 0);
  EXPECT_EQ(m.pool().num_evictable(), 2);
}

TEST(KvCacheManager, AttachAndReserveAreAllOrNothing) {
  KvCacheManager m(4, kBs);
  const BlockHash root = hash_salt("s");
  BlockTable t1 = run(m, root, seq(0, 8));  // two cached, used blocks
  BlockTable t2;
  t2.root = root;
  PrefixMatch none;
  EXPECT_FALSE(m.can_attach(none, 9));  // needs 3, 2 free
  EXPECT_FALSE(m.attach(t2, none, 9));
  EXPECT_TRUE(t2.blocks.empty());
  EXPECT_EQ(m.pool().num_used(), 2);
  ASSERT_TRUE(m.attach(t2, none, 5));
  EXPECT_FALSE(m.reserve(t2, 13));  // would need 2 more, none free
  EXPECT_EQ(t2.blocks.size(), 2u);
  EXPECT_TRUE(m.reserve(t2, 8));  // already covered
  m.release(t2);

  // Matched blocks that are idle count against the free supply.
  m.release(t1);
  EXPECT_EQ(m.pool().num_free(), 4);
  const auto match = m.match_prefix(root, seq(0, 12), 11);
  EXPECT_EQ(match.n_tokens, 8);
  EXPECT_TRUE(m.can_attach(match, 16));   // 2 matched + 2 fresh
  EXPECT_FALSE(m.can_attach(match, 17));  // 2 matched + 3 fresh > 4
}

TEST(KvCacheManager, ReleaseEvictsTheDeepestBlocksFirst) {
  KvCacheManager m(4, kBs);
  const BlockHash root = hash_salt("s");
  BlockTable t = run(m, root, seq(0, 16));  // four cached blocks
  m.release(t);
  EXPECT_EQ(m.pool().num_evictable(), 4);
  // Allocating one block evicts the last block of the chain; the 12-token
  // prefix survives.
  BlockTable u;
  u.root = hash_salt("other");
  ASSERT_TRUE(m.attach(u, PrefixMatch{}, 1));
  EXPECT_EQ(m.match_prefix(root, seq(0, 16), 16).n_tokens, 12);
  ASSERT_TRUE(m.reserve(u, 5));
  EXPECT_EQ(m.match_prefix(root, seq(0, 16), 16).n_tokens, 8);
  m.release(u);
}

TEST(KvCacheManager, ForkSharesFullBlocksAndCopiesTheTail) {
  KvCacheManager m(8, kBs);
  const BlockHash root = hash_salt("s");
  const auto prompt = seq(0, 10);
  BlockTable src = run(m, root, prompt);
  BlockTable dst;
  BlockCopy copy;
  ASSERT_TRUE(m.fork(src, 10, dst, &copy));
  ASSERT_EQ(dst.blocks.size(), 3u);
  EXPECT_EQ(dst.blocks[0], src.blocks[0]);
  EXPECT_EQ(dst.blocks[1], src.blocks[1]);
  EXPECT_EQ(copy.src, src.blocks[2]);
  EXPECT_EQ(copy.dst, dst.blocks[2]);
  EXPECT_NE(dst.blocks[2], src.blocks[2]);
  EXPECT_EQ(dst.hashes, src.hashes);
  EXPECT_EQ(m.pool().ref_count(src.blocks[0]), 2);

  // On a block boundary nothing is copied.
  BlockTable src8 = run(m, hash_salt("t"), seq(50, 8));
  BlockTable dst8;
  ASSERT_TRUE(m.fork(src8, 8, dst8, &copy));
  EXPECT_EQ(copy.src, -1);
  EXPECT_EQ(dst8.blocks, src8.blocks);

  // No free block for the tail: the fork fails and changes nothing.
  KvCacheManager small(3, kBs);
  BlockTable s = run(small, root, prompt);
  const int32_t used = small.pool().num_used();
  BlockTable d;
  EXPECT_FALSE(small.fork(s, 10, d, &copy));
  EXPECT_TRUE(d.blocks.empty());
  EXPECT_EQ(small.pool().num_used(), used);
  EXPECT_EQ(small.pool().ref_count(s.blocks[0]), 1);
  for (BlockTable* t : {&src, &dst, &src8, &dst8}) m.release(*t);
  small.release(s);
  EXPECT_EQ(m.pool().num_used(), 0);
}

TEST(KvCacheManager, ConcurrentDuplicatesStayPrivate) {
  KvCacheManager m(8, kBs);
  const BlockHash root = hash_salt("s");
  const auto t = seq(0, 8);
  // Both attach before either has computed anything: no sharing possible.
  BlockTable a, b;
  a.root = b.root = root;
  ASSERT_TRUE(m.attach(a, m.match_prefix(root, t, 7), 8));
  ASSERT_TRUE(m.attach(b, m.match_prefix(root, t, 7), 8));
  m.commit(a, t, 8);
  m.commit(b, t, 8);
  EXPECT_EQ(m.pool().num_cached(), 2);  // a's two blocks
  EXPECT_TRUE(m.pool().is_cached(a.blocks[0]));
  EXPECT_FALSE(m.pool().is_cached(b.blocks[0]));
  m.release(b);
  EXPECT_EQ(m.pool().num_evictable(), 0);  // b's duplicates went straight to free
  m.release(a);
  EXPECT_EQ(m.pool().num_evictable(), 2);
}

// Model-based stress test: random sequences drawn from a few shared prefixes
// are admitted, grown, forked, committed and released in random order. A
// shadow "KV storage" records which token each (block, slot) holds when it is
// computed; every prefix hit must point at blocks whose stored tokens equal the
// new sequence's tokens, under the same salt.
TEST(KvCacheManager, RandomWorkloadKeepsContentAndCountsConsistent) {
  constexpr int32_t kBlocks = 48;
  KvCacheManager m(kBlocks, kBs);
  std::mt19937 rng(1234);
  const std::vector<std::string> salts = {"a", "b"};
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 4; ++i) {
    std::vector<int32_t> p(static_cast<size_t>(4 + rng() % 20));
    for (auto& x : p) x = static_cast<int32_t>(rng() % 7);  // small alphabet: many near-duplicates
    prefixes.push_back(p);
  }
  // shadow[b][slot] = (salt index, token) written by the "forward pass".
  std::vector<std::vector<std::pair<int, int32_t>>> shadow(kBlocks, std::vector<std::pair<int, int32_t>>(kBs, {-1, -1}));

  struct Live {
    int salt;
    std::vector<int32_t> tokens;
    int32_t computed = 0;
    BlockTable table;
  };
  std::vector<Live> live;
  uint64_t hits = 0;

  auto write_kv = [&](Live& s, int32_t from, int32_t to) {
    for (int32_t p = from; p < to; ++p) {
      const int32_t b = s.table.blocks[static_cast<size_t>(p / kBs)];
      shadow[static_cast<size_t>(b)][static_cast<size_t>(p % kBs)] = {s.salt, s.tokens[static_cast<size_t>(p)]};
    }
  };
  auto check_table = [&](const Live& s) {
    for (int32_t p = 0; p < s.computed; ++p) {
      const int32_t b = s.table.blocks[static_cast<size_t>(p / kBs)];
      const auto& cell = shadow[static_cast<size_t>(b)][static_cast<size_t>(p % kBs)];
      ASSERT_EQ(cell.first, s.salt) << "block " << b << " slot " << p % kBs;
      ASSERT_EQ(cell.second, s.tokens[static_cast<size_t>(p)]) << "block " << b << " pos " << p;
    }
  };

  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 3) {  // admit
      Live s;
      s.salt = static_cast<int>(rng() % 2);
      s.tokens = prefixes[rng() % prefixes.size()];
      const int extra = static_cast<int>(rng() % 12);
      for (int i = 0; i < extra; ++i) s.tokens.push_back(static_cast<int32_t>(rng() % 7));
      if (s.tokens.size() < 2) s.tokens.push_back(1);
      s.table.root = hash_salt(salts[static_cast<size_t>(s.salt)]);
      const auto n = static_cast<int32_t>(s.tokens.size());
      const auto match = m.match_prefix(s.table.root, s.tokens, n - 1);
      const int32_t chunk = std::min(n, match.n_tokens + 1 + static_cast<int32_t>(rng() % 8));
      if (!m.attach(s.table, match, chunk)) continue;
      hits += static_cast<uint64_t>(match.n_tokens);
      s.computed = match.n_tokens;
      check_table(s);  // the hit's content is ours
      write_kv(s, s.computed, chunk);
      s.computed = chunk;
      m.commit(s.table, s.tokens, s.computed);
      live.push_back(std::move(s));
    } else if (op < 7 && !live.empty()) {  // grow: next chunk or a generated token
      Live& s = live[rng() % live.size()];
      if (s.computed == static_cast<int32_t>(s.tokens.size())) s.tokens.push_back(static_cast<int32_t>(rng() % 7));
      const int32_t to = std::min<int32_t>(static_cast<int32_t>(s.tokens.size()), s.computed + 1 + static_cast<int32_t>(rng() % 6));
      if (!m.reserve(s.table, to)) continue;
      write_kv(s, s.computed, to);
      s.computed = to;
      m.commit(s.table, s.tokens, s.computed);
      check_table(s);
    } else if (op < 8 && !live.empty()) {  // fork (n > 1)
      Live& s = live[rng() % live.size()];
      Live f;
      f.salt = s.salt;
      f.tokens.assign(s.tokens.begin(), s.tokens.begin() + s.computed);
      BlockCopy copy;
      if (!m.fork(s.table, s.computed, f.table, &copy)) continue;
      if (copy.src >= 0) shadow[static_cast<size_t>(copy.dst)] = shadow[static_cast<size_t>(copy.src)];
      f.computed = s.computed;
      check_table(f);
      live.push_back(std::move(f));
    } else if (!live.empty()) {  // finish, abort or preempt
      const size_t i = rng() % live.size();
      check_table(live[i]);
      m.release(live[i].table);
      live.erase(live.begin() + static_cast<ptrdiff_t>(i));
    }

    // Invariants: reference counts equal table membership; a block shared by
    // several tables is a cached full block; counts add up.
    std::map<int32_t, int32_t> refs;
    std::set<int32_t> not_full;  // blocks some table may still write into
    for (const auto& s : live) {
      std::set<int32_t> own(s.table.blocks.begin(), s.table.blocks.end());
      ASSERT_EQ(own.size(), s.table.blocks.size());
      for (size_t i = 0; i < s.table.blocks.size(); ++i) {
        ++refs[s.table.blocks[i]];
        if (static_cast<int32_t>(i + 1) * kBs > s.computed) not_full.insert(s.table.blocks[i]);
      }
      ASSERT_LE(s.table.hashes.size(), s.table.blocks.size());
    }
    for (const auto& [b, r] : refs) {
      ASSERT_EQ(m.pool().ref_count(b), r);
      if (r > 1) {
        ASSERT_FALSE(not_full.count(b)) << "shared block " << b << " must be full in every table";
      }
    }
    ASSERT_EQ(m.pool().num_used(), static_cast<int32_t>(refs.size()));
    ASSERT_EQ(m.pool().num_used() + m.pool().num_free(), kBlocks);
    ASSERT_LE(m.pool().num_evictable(), m.pool().num_cached());
    ASSERT_LE(m.pool().num_evictable(), m.pool().num_free());
  }
  EXPECT_GT(hits, 1000u);  // the workload did exercise prefix hits
  EXPECT_GT(m.pool().num_evictions(), 100u);  // and eviction
  EXPECT_EQ(m.prefix_hit_tokens(), hits);
  for (auto& s : live) m.release(s.table);
  EXPECT_EQ(m.pool().num_used(), 0);
}

}  // namespace
}  // namespace llmd::engine::kv
