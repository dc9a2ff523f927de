// Continuous batching must not change results: prompts decoded together in
// one batch (and with chunked prefill mixed into decode steps) give exactly
// the greedy ids each gives alone.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/stories_reference.hpp"

namespace llmd::scheduler::test {
namespace {

struct Reference {
  std::vector<int32_t> prompt;
  std::vector<int32_t> gen;
};

std::vector<Reference> stories_references() {
  std::vector<Reference> refs;
  for (auto& c : ::llmd::test::read_stories_reference()) refs.push_back({std::move(c.prompt_ids), std::move(c.gen_ids)});
  return refs;
}

// Submits every prompt at once and returns the generated ids of each.
std::vector<std::vector<int32_t>> run_batch(LoadedModel& m, const std::vector<std::vector<int32_t>>& prompts,
                                            int32_t max_tokens, const SchedulerConfig& cfg, SchedulerStats* stats) {
  auto s = make_scheduler(m, cfg);
  if (!s) return {};
  std::vector<std::shared_ptr<Recorder>> recs;
  for (const auto& p : prompts) {
    recs.push_back(std::make_shared<Recorder>());
    EXPECT_TRUE(s->submit(greedy_request(p, max_tokens, recs.back())));
  }
  run_to_idle(*s);
  std::vector<std::vector<int32_t>> out;
  for (const auto& r : recs) {
    EXPECT_TRUE(r->done());
    EXPECT_EQ(r->protocol_errors(), 0);
    EXPECT_EQ(r->choice().finish, FinishReason::length);
    out.push_back(r->choice().ids);
  }
  *stats = s->stats();
  return out;
}

void expect_batch_equals_alone(LoadedModel& m, const std::vector<std::vector<int32_t>>& prompts, int32_t max_tokens) {
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(generate_alone(m, p, max_tokens));

  SchedulerConfig cfg;
  cfg.max_seqs = 8;
  cfg.max_batched_tokens = 512;
  SchedulerStats st;
  auto batch = run_batch(m, prompts, max_tokens, cfg, &st);
  ASSERT_EQ(batch.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(batch[i], alone[i]) << "prompt " << i << " differs when batched";
  }
  // All eight really were decoded together: steps with 5-8 sequences.
  EXPECT_GT(st.batch_seqs_histogram[3], static_cast<uint64_t>(max_tokens / 2));
  EXPECT_EQ(st.kv_blocks_used, 0);

  // A token budget of 16 splits prompts into chunks that share steps with
  // other sequences' decodes.
  cfg.max_batched_tokens = 16;
  auto chunked = run_batch(m, prompts, max_tokens, cfg, &st);
  ASSERT_EQ(chunked.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(chunked[i], alone[i]) << "prompt " << i << " differs with chunked prefill";
  }
}

TEST(BatchEquivalence, StoriesEightPromptsTogetherEqualEachAlone) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const auto refs = stories_references();
  ASSERT_EQ(refs.size(), 3u);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& r : refs) prompts.push_back(r.prompt);
  for (const char* text : {"Lily and Ben went to the park to play with their ball", "The cat", "One day, a little boy named Tom found a shiny red box under his bed. He",
                           "Sara wanted to bake a cake", "The sun was hot and the birds were singing in the big green tree near the house"}) {
    prompts.push_back(m->encode(text));
  }
  ASSERT_EQ(prompts.size(), 8u);
  expect_batch_equals_alone(*m, prompts, 64);

  // And the three reference prompts give the reference engine's ids.
  SchedulerConfig cfg;
  cfg.max_seqs = 8;
  SchedulerStats st;
  auto batch = run_batch(*m, prompts, 64, cfg, &st);
  ASSERT_EQ(batch.size(), 8u);
  for (size_t i = 0; i < refs.size(); ++i) EXPECT_EQ(batch[i], refs[i].gen) << "reference prompt " << i;
}

TEST(BatchEquivalence, SyntheticGqaEightPromptsTogetherEqualEachAlone) {
  auto m = load_model(synthetic_gqa_model());
  ASSERT_TRUE(m);
  ASSERT_EQ(m->model->config().n_head_kv * 4, m->model->config().n_head);
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> p(static_cast<size_t>(3 + 9 * i));  // 3..66 tokens
    for (auto& t : p) t = static_cast<int32_t>(3 + rng() % static_cast<uint32_t>(m->model->config().n_vocab - 3));
    prompts.push_back(p);
  }
  expect_batch_equals_alone(*m, prompts, 40);
}

}  // namespace
}  // namespace llmd::scheduler::test
