// The real scheduler over a model split into CPU stages: the scheduler, the
// paged-KV bookkeeping and the prefix cache see one model, and every output
// equals the one-backend run while batches mix prefill chunks and decode
// steps, a tiny pool forces preemption, prefixes hit the cache and choices
// fork (copy-on-write of a shared block in every stage).
#include <gtest/gtest.h>

#include "engine/backend/backend_factory.hpp"
#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

// Loads stories260K and replaces its backend with a split over CPU stages.
std::unique_ptr<LoadedModel> load_split(const std::vector<int32_t>& split) {
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  if (!m) return nullptr;
  engine::BackendOptions o;
  o.threads = 1;
  for (size_t i = 0; i < split.size(); ++i) o.devices.push_back("cpu:" + std::to_string(i));
  o.layer_split = split;
  auto b = engine::make_backend(*m->model, o);
  if (!b) {
    ADD_FAILURE() << b.error().message;
    return nullptr;
  }
  m->backend = std::move(*b);
  return m;
}

std::vector<std::vector<int32_t>> prompts(const LoadedModel& m) {
  std::vector<std::vector<int32_t>> out;
  for (const char* s : {"Once upon a time", "Lily", "The dog", "Tom and Sue", "One day", "A little bird", "The sun",
                        "Max had a", "There was a big", "Mom said", "The cat jumped", "Ben wanted"})
    out.push_back(m.encode(s));
  return out;
}

TEST(SplitScheduler, TinyPoolMixedBatchesAndPreemptionMatchOneBackend) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto whole = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(whole);
  const auto ps = prompts(*whole);
  constexpr int32_t kGen = 40;
  std::vector<std::vector<int32_t>> expected;
  for (const auto& p : ps) expected.push_back(generate_alone(*whole, p, kGen));

  for (const std::vector<int32_t>& split : {std::vector<int32_t>{2, 3}, std::vector<int32_t>{1, 2, 2}}) {
    auto m = load_split(split);
    ASSERT_TRUE(m);
    SchedulerConfig cfg;
    cfg.max_seqs = 12;
    cfg.max_choices = 1;
    cfg.max_batched_tokens = 24;  // prompts arrive in chunks beside other sequences' decode steps
    cfg.kv_blocks = 16;           // 256 tokens for 12 sequences that grow to ~45 tokens each
    auto s = make_scheduler(*m, cfg);
    ASSERT_TRUE(s);
    std::vector<std::shared_ptr<Recorder>> recs;
    for (size_t i = 0; i < ps.size(); ++i) {
      recs.push_back(std::make_shared<Recorder>());
      ASSERT_TRUE(s->submit(greedy_request(ps[i], kGen, recs.back(), i % 2 ? "team-a" : "team-b")));
    }
    run_to_idle(*s);
    const auto st = s->stats();
    EXPECT_GT(st.preemptions, 0u) << "the pool was meant to be too small";
    EXPECT_EQ(st.kv_blocks_used, 0);
    for (size_t i = 0; i < recs.size(); ++i) {
      ASSERT_TRUE(recs[i]->done()) << i;
      EXPECT_EQ(recs[i]->choice().ids, expected[i]) << "request " << i << ", split " << split.size();
    }
  }
}

TEST(SplitScheduler, PrefixHitsAndForksMatchOneBackend) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto whole = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(whole);
  std::string text;
  while (whole->encode(text).size() < 100)
    text += "Once upon a time, there was a little girl named Lily. She loved to play in the park. ";
  auto prefix = whole->encode(text);
  prefix.resize(100);
  auto first = prefix, second = prefix;
  first.insert(first.end(), {403, 407});
  second.insert(second.end(), {378, 286, 376});
  constexpr int32_t kGen = 20;
  const auto expected = generate_alone(*whole, second, kGen);

  auto m = load_split({3, 2});
  ASSERT_TRUE(m);
  SchedulerConfig cfg;
  cfg.max_seqs = 4;
  auto s = make_scheduler(*m, cfg);
  ASSERT_TRUE(s);
  auto r1 = std::make_shared<Recorder>();
  ASSERT_TRUE(s->submit(greedy_request(first, kGen, r1)));
  run_to_idle(*s);
  // The 6 full blocks (96 tokens) of the shared prefix are reused.
  auto r2 = std::make_shared<Recorder>();
  ASSERT_TRUE(s->submit(greedy_request(second, kGen, r2)));
  run_to_idle(*s);
  EXPECT_EQ(r2->usage().cached_tokens, 96);
  EXPECT_EQ(s->stats().prefix_hit_tokens, 96u);
  EXPECT_EQ(r2->choice().ids, expected);

  // Two greedy choices share the prompt's partial last block, then each
  // writes its own copy: both equal the lone run.
  auto r3 = std::make_shared<Recorder>(2);
  auto req = greedy_request(second, kGen, r3, "team-b");
  req.n = 2;
  ASSERT_TRUE(s->submit(std::move(req)));
  run_to_idle(*s);
  ASSERT_TRUE(r3->done());
  EXPECT_EQ(r3->choice(0).ids, expected);
  EXPECT_EQ(r3->choice(1).ids, expected);
  EXPECT_EQ(s->stats().kv_blocks_used, 0);
}

}  // namespace
}  // namespace llmd::scheduler::test
