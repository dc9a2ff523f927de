// Prefix caching through the scheduler: a request that shares a long prefix
// with an earlier one of the same team skips the cached blocks and still gives
// the same output; another team (another cache salt) gets no reuse.
#include <gtest/gtest.h>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

// A 200-token prompt prefix of natural text (BOS included).
std::vector<int32_t> long_prefix(const LoadedModel& m) {
  std::string text;
  for (int i = 0; text.empty() || m.encode(text).size() < 200; ++i) {
    text += "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her "
            "friends. One day, she saw a big red ball near the tree. ";
  }
  auto ids = m.encode(text);
  ids.resize(200);
  return ids;
}

std::vector<int32_t> with_suffix(std::vector<int32_t> p, std::initializer_list<int32_t> suffix) {
  p.insert(p.end(), suffix);
  return p;
}

TEST(PrefixCache, SharedPrefixSkipsCachedBlocksWithIdenticalOutput) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const auto prefix = long_prefix(*m);
  const auto first = with_suffix(prefix, {403, 407, 261});
  const auto second = with_suffix(prefix, {378, 286, 376, 298, 315});
  constexpr int32_t kGen = 24;
  const auto expected = generate_alone(*m, second, kGen);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kGen));

  SchedulerConfig cfg;
  cfg.max_seqs = 4;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  auto run = [&](const std::vector<int32_t>& prompt, const std::string& team) {
    auto rec = std::make_shared<Recorder>();
    EXPECT_TRUE(s->submit(greedy_request(prompt, kGen, rec, team)));
    run_to_idle(*s);
    EXPECT_TRUE(rec->done());
    return rec;
  };

  auto r1 = run(first, "team-a");
  EXPECT_EQ(r1->usage().cached_tokens, 0);
  EXPECT_EQ(s->stats().prefix_hit_tokens, 0u);
  const uint64_t processed_before = s->stats().tokens_processed;

  // Same team: the 12 full blocks (192 tokens) of the shared 200 are reused.
  auto r2 = run(second, "team-a");
  EXPECT_EQ(r2->usage().cached_tokens, 192);
  EXPECT_EQ(r2->usage().prompt_tokens, static_cast<int32_t>(second.size()));
  EXPECT_EQ(s->stats().prefix_hit_tokens, 192u);
  EXPECT_EQ(r2->choice().ids, expected);
  // Only the uncached prompt tail and the decode steps were computed.
  EXPECT_EQ(s->stats().tokens_processed - processed_before,
            static_cast<uint64_t>(second.size() - 192 + kGen - 1));

  // Another team, same prompt: no reuse across salts, same output.
  auto r3 = run(second, "team-b");
  EXPECT_EQ(r3->usage().cached_tokens, 0);
  EXPECT_EQ(s->stats().prefix_hit_tokens, 192u);
  EXPECT_EQ(r3->choice().ids, expected);

  // The same prompt again for team a hits every full block of it.
  auto r4 = run(second, "team-a");
  EXPECT_EQ(r4->usage().cached_tokens, static_cast<int32_t>((second.size() - 1) / 16 * 16));
  EXPECT_EQ(r4->choice().ids, expected);

  const auto st = s->stats();
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_GT(st.kv_blocks_cached, 0);
  EXPECT_EQ(st.kv_blocks_cached, st.kv_blocks_evictable);
}

TEST(PrefixCache, TeamsSharingASaltShareBlocks) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const auto prefix = long_prefix(*m);
  SchedulerConfig cfg;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  auto a = std::make_shared<Recorder>();
  auto req = greedy_request(with_suffix(prefix, {403}), 4, a, "team-a");
  req.cache_salt = "shared";
  ASSERT_TRUE(s->submit(std::move(req)));
  run_to_idle(*s);
  auto b = std::make_shared<Recorder>();
  req = greedy_request(with_suffix(prefix, {407}), 4, b, "team-b");
  req.cache_salt = "shared";
  ASSERT_TRUE(s->submit(std::move(req)));
  run_to_idle(*s);
  EXPECT_EQ(b->usage().cached_tokens, 192);
}

TEST(PrefixCache, ConcurrentRequestsWithOnePrefixStayCorrect) {
  // Eight requests with the same long prefix submitted at once: the first to
  // fill a block registers it, the others compute their own copy, and all
  // outputs equal the lone run.
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const auto prefix = long_prefix(*m);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> expected;
  for (int32_t i = 0; i < 8; ++i) {
    prompts.push_back(with_suffix(prefix, {static_cast<int32_t>(300 + i), static_cast<int32_t>(310 + i)}));
    expected.push_back(generate_alone(*m, prompts.back(), 16));
  }
  SchedulerConfig cfg;
  cfg.max_seqs = 8;
  cfg.max_batched_tokens = 64;  // prefills in chunks: later ones can hit blocks the first registered
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  std::vector<std::shared_ptr<Recorder>> recs;
  for (const auto& p : prompts) {
    recs.push_back(std::make_shared<Recorder>());
    ASSERT_TRUE(s->submit(greedy_request(p, 16, recs.back(), "team-a")));
  }
  run_to_idle(*s);
  for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i]->choice().ids, expected[i]) << i;
  EXPECT_EQ(s->stats().kv_blocks_used, 0);
}

}  // namespace
}  // namespace llmd::scheduler::test
