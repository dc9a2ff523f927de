// The loop on its own thread with many callers: submits and aborts from
// several threads and from inside event callbacks, under memory pressure.
// Every accepted request ends exactly once, outputs stay correct, and every
// KV block comes back.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

TEST(ThreadedLoop, ManyCallersSubmitAndAbortConcurrently) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const std::vector<std::vector<int32_t>> prompts = {m->encode("Once upon a time"), m->encode("The little dog"),
                                                     m->encode("Lily and Ben"), m->encode("One day")};
  constexpr int32_t kGen = 24;
  std::vector<std::vector<int32_t>> expected;
  for (const auto& p : prompts) expected.push_back(generate_alone(*m, p, kGen));

  SchedulerConfig cfg;
  cfg.max_seqs = 6;
  cfg.kv_blocks = 14;  // tight: preemptions happen while callers come and go
  cfg.max_waiting = 10000;
  cfg.max_waiting_per_team = 10000;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  s->start();

  struct Job {
    std::shared_ptr<Recorder> rec;
    size_t prompt = 0;
    bool abort = false;  // long request that a caller aborts
  };
  std::mutex jobs_mu;
  std::vector<Job> jobs;
  std::atomic<int> chained{0};

  // A sink that, when its request ends, first submits a follow-up from the
  // engine thread (up to 10 in all) and registers it, then records the end.
  std::function<EventSink(std::shared_ptr<Recorder>, size_t)> chain_sink;
  chain_sink = [&](std::shared_ptr<Recorder> rec, size_t prompt) -> EventSink {
    return [&, sink = rec->sink(), prompt](StreamEvent&& ev) {
      if (ev.done && chained.fetch_add(1) < 10) {
        const size_t next_prompt = (prompt + 1) % prompts.size();
        auto next = std::make_shared<Recorder>();
        auto req = greedy_request(prompts[next_prompt], kGen, next, "chain");
        req.on_event = chain_sink(next, next_prompt);
        auto id = s->submit(std::move(req));
        EXPECT_TRUE(id);
        std::lock_guard lk(jobs_mu);
        if (id) jobs.push_back({next, next_prompt, false});
      }
      sink(std::move(ev));
    };
  };

  auto submit = [&](size_t prompt, const std::string& team, bool chain, bool abort) {
    auto rec = std::make_shared<Recorder>();
    auto req = greedy_request(prompts[prompt], abort ? 0 : kGen, rec, team);  // 0: to the context limit
    if (chain) req.on_event = chain_sink(rec, prompt);
    auto id = s->submit(std::move(req));
    EXPECT_TRUE(id);
    std::lock_guard lk(jobs_mu);
    jobs.push_back({rec, prompt, abort});
    return id ? *id : RequestId{0};
  };

  auto caller = [&](int seed) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    for (int i = 0; i < 15; ++i) {
      const size_t p = rng() % prompts.size();
      const bool abort = rng() % 3 == 0;
      const RequestId id = submit(p, "team-" + std::to_string(seed % 3), i == 0 && !abort, abort);
      if (abort) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
        s->abort(id);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(caller, t + 1);
  for (auto& t : threads) t.join();

  // Wait for everything, including the chained follow-ups.
  for (int round = 0; round < 2000; ++round) {
    bool all = true;
    {
      std::lock_guard lk(jobs_mu);
      for (auto& j : jobs) all = all && j.rec->done();
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<Job> all;
  {
    std::lock_guard lk(jobs_mu);
    all = jobs;
  }
  int aborted = 0;
  for (auto& j : all) {
    ASSERT_TRUE(j.rec->done());
    EXPECT_EQ(j.rec->protocol_errors(), 0);
    const ChoiceRecord& c = j.rec->choice();
    if (j.abort) {
      EXPECT_EQ(c.finish, FinishReason::abort);
      ++aborted;
      // What it produced before the abort starts like the right answer.
      const size_t n = std::min(c.ids.size(), expected[j.prompt].size());
      EXPECT_EQ(std::vector<int32_t>(c.ids.begin(), c.ids.begin() + static_cast<ptrdiff_t>(n)),
                std::vector<int32_t>(expected[j.prompt].begin(), expected[j.prompt].begin() + static_cast<ptrdiff_t>(n)));
    } else {
      EXPECT_EQ(c.finish, FinishReason::length);
      EXPECT_EQ(c.ids, expected[j.prompt]);
    }
  }
  EXPECT_GT(aborted, 0);
  EXPECT_GE(chained.load(), 10);  // follow-ups were submitted from the engine thread
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (s->stats().kv_blocks_used != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto st = s->stats();
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_EQ(st.requests_finished, all.size());
  EXPECT_EQ(st.requests_submitted, all.size());
  s->stop();
}

}  // namespace
}  // namespace llmd::scheduler::test
