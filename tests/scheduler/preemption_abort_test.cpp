// Memory pressure and cancellation: a pool far too small for the load forces
// preemption (with recomputation) and still gives every request its correct
// output; aborts free their blocks at the next step; nothing leaks.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

std::vector<std::vector<int32_t>> twenty_prompts(const LoadedModel& m) {
  const char* starts[] = {"Once upon a time", "Lily", "The dog", "Tom and Sue", "One day", "A little bird",
                          "The sun", "Max had a", "There was a big", "Mom said", "The cat jumped", "Ben wanted",
                          "It was a cold", "The girl", "A boy named Tim", "In the park", "The car", "Sam saw",
                          "The little fish", "Anna liked"};
  std::vector<std::vector<int32_t>> out;
  for (const char* s : starts) out.push_back(m.encode(s));
  return out;
}

TEST(Preemption, TinyPoolCompletesTwentyRequestsCorrectly) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const auto prompts = twenty_prompts(*m);
  constexpr int32_t kGen = 40;
  std::vector<std::vector<int32_t>> expected;
  for (const auto& p : prompts) expected.push_back(generate_alone(*m, p, kGen));

  SchedulerConfig cfg;
  cfg.max_seqs = 20;
  cfg.max_choices = 1;
  cfg.max_batched_tokens = 256;
  cfg.kv_blocks = 24;  // 384 tokens for 20 sequences that grow to ~45 tokens (3 blocks) each
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  std::vector<std::shared_ptr<Recorder>> recs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    recs.push_back(std::make_shared<Recorder>());
    ASSERT_TRUE(s->submit(greedy_request(prompts[i], kGen, recs.back(), i % 2 ? "team-a" : "team-b")));
  }
  int32_t peak_used = 0;
  for (int i = 0; i < 100000 && s->step(); ++i) peak_used = std::max(peak_used, s->stats().kv_blocks_used);
  const auto st = s->stats();
  EXPECT_GT(st.preemptions, 0u) << "the pool was meant to be too small";
  EXPECT_LE(peak_used, 24);
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.waiting, 0);
  for (size_t i = 0; i < recs.size(); ++i) {
    ASSERT_TRUE(recs[i]->done()) << i;
    EXPECT_EQ(recs[i]->protocol_errors(), 0);
    EXPECT_EQ(recs[i]->choice().ids, expected[i]) << "request " << i;
    EXPECT_EQ(recs[i]->usage().completion_tokens, kGen);
  }
  uint64_t team_preemptions = 0;
  for (const auto& t : st.teams) team_preemptions += t.preemptions;
  EXPECT_EQ(team_preemptions, st.preemptions);
}

TEST(Preemption, AbortsUnderPressureReturnEveryBlock) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const auto prompts = twenty_prompts(*m);
  SchedulerConfig cfg;
  cfg.max_seqs = 20;
  cfg.kv_blocks = 24;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<RequestId> ids;
  for (const auto& p : prompts) {
    recs.push_back(std::make_shared<Recorder>());
    auto id = s->submit(greedy_request(p, 60, recs.back()));
    ASSERT_TRUE(id);
    ids.push_back(*id);
  }
  for (int i = 0; i < 30; ++i) s->step();
  for (size_t i = 0; i < ids.size(); i += 3) s->abort(ids[i]);
  run_to_idle(*s);
  for (size_t i = 0; i < recs.size(); ++i) {
    ASSERT_TRUE(recs[i]->done());
    EXPECT_EQ(recs[i]->choice().finish, i % 3 == 0 ? FinishReason::abort : FinishReason::length) << i;
  }
  const auto st = s->stats();
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_EQ(st.requests_aborted, 7u);
  EXPECT_EQ(st.requests_finished, 20u);
}

TEST(Abort, MidGenerationFreesBlocksWithinOneStep) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  SchedulerConfig cfg;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  auto rec = std::make_shared<Recorder>();
  auto other = std::make_shared<Recorder>();
  auto id = s->submit(greedy_request(m->encode("Once upon a time"), 400, rec));
  ASSERT_TRUE(id);
  ASSERT_TRUE(s->submit(greedy_request(m->encode("The dog"), 400, other)));
  while (rec->generated_total() < 40) ASSERT_TRUE(s->step());
  const int32_t used_both = s->stats().kv_blocks_used;
  EXPECT_GE(used_both, 2 * 3);

  s->abort(*id);
  ASSERT_TRUE(s->step());
  EXPECT_TRUE(rec->done());
  EXPECT_EQ(rec->choice().finish, FinishReason::abort);
  EXPECT_EQ(rec->usage().completion_tokens, static_cast<int32_t>(rec->choice().ids.size()));
  // Only the other request's blocks remain.
  const int32_t used_after = s->stats().kv_blocks_used;
  EXPECT_LE(used_after, used_both / 2 + 1);
  EXPECT_FALSE(other->done());

  // Aborting again, or an unknown id, changes nothing.
  s->abort(*id);
  s->abort(987654321);
  ASSERT_TRUE(s->step());
  EXPECT_EQ(rec->protocol_errors(), 0);

  // A request aborted while still waiting never runs.
  SchedulerConfig one;
  one.max_seqs = 1;
  one.max_choices = 1;
  s.reset();
  s = make_scheduler(*m, one);
  auto running = std::make_shared<Recorder>();
  auto queued = std::make_shared<Recorder>();
  ASSERT_TRUE(s->submit(greedy_request(m->encode("Lily"), 20, running)));
  auto qid = s->submit(greedy_request(m->encode("Tom"), 20, queued));
  ASSERT_TRUE(qid);
  ASSERT_TRUE(s->step());
  s->abort(*qid);
  run_to_idle(*s);
  EXPECT_EQ(queued->choice().finish, FinishReason::abort);
  EXPECT_TRUE(queued->choice().ids.empty());
  EXPECT_EQ(running->choice().finish, FinishReason::length);
  EXPECT_EQ(s->stats().kv_blocks_used, 0);
}

TEST(Abort, FromOtherThreadsWhileTheLoopRuns) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  SchedulerConfig cfg;
  cfg.max_seqs = 8;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  s->start();
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<RequestId> ids;
  for (int i = 0; i < 20; ++i) {
    recs.push_back(std::make_shared<Recorder>());
    auto id = s->submit(greedy_request(m->encode(i % 2 ? "Once upon a time" : "The little dog"), 450, recs.back()));
    ASSERT_TRUE(id);
    ids.push_back(*id);
  }
  // Drop every stream from two threads once it has produced something.
  std::atomic<int> next{0};
  auto dropper = [&] {
    for (int i; (i = next.fetch_add(1)) < 20;) {
      while (recs[static_cast<size_t>(i)]->generated_total() == 0 && !recs[static_cast<size_t>(i)]->done()) {
        std::this_thread::yield();
      }
      s->abort(ids[static_cast<size_t>(i)]);
    }
  };
  std::thread t1(dropper), t2(dropper);
  t1.join();
  t2.join();
  for (auto& r : recs) ASSERT_TRUE(r->wait_done());
  // Within a second every block is back (stats are published after each step).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (s->stats().kv_blocks_used != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(s->stats().kv_blocks_used, 0);
  for (auto& r : recs) EXPECT_EQ(r->protocol_errors(), 0);
  s->stop();
  EXPECT_EQ(s->stats().requests_finished, 20u);
}

}  // namespace
}  // namespace llmd::scheduler::test
