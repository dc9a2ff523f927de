// forward_and_sample: the host chooses a backend's samples from the logits it
// returned (what Sampler::sample gives on those logits), leaves a sampling
// backend's own choices alone, and refuses samples naming missing rows.
#include <gtest/gtest.h>

#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/sampling/sampler.hpp"

namespace llmd::engine {
namespace {

// Returns fixed logits rows: the unit under test is the step around forward.
class FixedLogits final : public Backend {
 public:
  FixedLogits(int32_t rows, int32_t vocab, bool samples) : rows_(rows), vocab_(vocab), samples_(samples) {}
  std::string name() const override { return "fixed"; }
  Status init_kv(const KvCacheShape&) override { return ok_status(); }
  uint64_t kv_block_bytes(const KvCacheShape&) const override { return 0; }
  Status copy_kv_block(int32_t, int32_t) override { return ok_status(); }
  bool samples_rows() const override { return samples_; }
  Status forward(const ForwardBatch& batch, ForwardOutput* out) override {
    out->n_rows = rows_;
    out->n_vocab = vocab_;
    out->logits.resize(static_cast<size_t>(rows_) * static_cast<size_t>(vocab_));
    for (size_t i = 0; i < out->logits.size(); ++i) out->logits[i] = static_cast<float>((i * 7919) % 101) * 0.1f;
    if (samples_) out->sampled.assign(batch.samples.size(), SampledToken{.id = 42});
    return ok_status();
  }

 private:
  int32_t rows_, vocab_;
  bool samples_;
};

TEST(ForwardAndSample, TheHostChoosesWhatTheSamplerWouldFromTheReturnedLogits) {
  FixedLogits be(3, 50, false);
  SamplingParams greedy, hot;
  greedy.temperature = 0.0f;
  hot.temperature = 0.9f;
  hot.top_p = 0.8f;
  hot.seed = 7;
  Sampler a(greedy), b(hot), b_again(hot);
  const std::vector<int32_t> prompt = {1, 2, 3};
  ForwardBatch batch;
  const SamplePlan pa = a.plan(50, prompt, {}), pb = b.plan(50, prompt, {}), pc = b.plan(50, prompt, {});
  batch.samples = {{2, &pa}, {0, &pb}, {0, &pc}};
  ForwardOutput out;
  ASSERT_TRUE(forward_and_sample(be, batch, &out).ok());
  ASSERT_EQ(out.sampled.size(), 3u);
  Sampler a2(greedy);
  EXPECT_EQ(out.sampled[0].id, a2.sample(out.row(2), prompt, {}).id);
  EXPECT_EQ(out.sampled[1].id, b_again.sample(out.row(0), prompt, {}).id);
  EXPECT_EQ(out.sampled[2].id, b_again.sample(out.row(0), prompt, {}).id);  // the next draw of the same stream
}

TEST(ForwardAndSample, ABackendThatSamplesKeepsItsChoices) {
  FixedLogits be(1, 50, true);
  Sampler s(SamplingParams{});
  const SamplePlan p = s.plan(50, {}, {});
  ForwardBatch batch;
  batch.samples = {{0, &p}};
  ForwardOutput out;
  ASSERT_TRUE(forward_and_sample(be, batch, &out).ok());
  ASSERT_EQ(out.sampled.size(), 1u);
  EXPECT_EQ(out.sampled[0].id, 42);
}

TEST(ForwardAndSample, ASampleOfAMissingRowIsAnError) {
  FixedLogits be(2, 50, false);
  Sampler s(SamplingParams{});
  const SamplePlan p = s.plan(50, {}, {});
  for (const int32_t row : {-1, 2}) {
    ForwardBatch batch;
    batch.samples = {{row, &p}};
    ForwardOutput out;
    const Status st = forward_and_sample(be, batch, &out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::engine_error);
  }
  ForwardBatch none;
  none.samples = {{0, nullptr}};
  ForwardOutput out;
  EXPECT_FALSE(forward_and_sample(be, none, &out).ok());
}

}  // namespace
}  // namespace llmd::engine
