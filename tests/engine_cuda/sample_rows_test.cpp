// Sampling on the device with the host sampler's plans: for the same logits
// and plan the device chooses exactly what choose_token() chooses, per
// parameter and combined, with penalties, bias, token masks and
// log-probabilities, for rows it
// finishes itself and rows it hands back to the host; and a CUDA backend
// step with samples gives the tokens the host would choose from its logits,
// in eager steps and in replayed decode graphs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.hpp"
#include "engine/cuda/device_sampler.hpp"
#include "engine/model/model.hpp"
#include "engine/sampling/sampler.hpp"
#include "tests/engine_cuda/backend_fixtures.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"
#include "tests/support/sample_cases.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::Rng;
using namespace test_fixtures;

// Device choices of `plans` against choose_token on the same rows.
void expect_device_equals_host(const std::vector<float>& logits, int vocab, const std::vector<RowSample>& samples,
                               const std::string& what) {
  DevArray<float> d(logits);
  ASSERT_TRUE(d.ok());
  DeviceHealth health;
  DeviceSampler sampler(health);
  std::vector<SampledToken> got(samples.size());
  const int rows = static_cast<int>(logits.size() / static_cast<size_t>(vocab));
  Status st = sampler.run(d.get(), 0, rows, vocab, samples, &got, nullptr);
  ASSERT_TRUE(st.ok()) << st.error().message;
  for (size_t k = 0; k < samples.size(); ++k) {
    const std::span<const float> row(logits.data() + static_cast<size_t>(samples[k].row) * vocab,
                                     static_cast<size_t>(vocab));
    const SampledToken want = choose_token(row, *samples[k].plan);
    const std::string where = what + ", sample " + std::to_string(k) + " (row " + std::to_string(samples[k].row) + ")";
    EXPECT_EQ(got[k].id, want.id) << where;
    // Log-probabilities: the same tokens, values up to the last bit of the
    // logarithm.
    auto same_value = [](float a, float b) {
      return (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= 1e-6f * std::max(1.0f, std::fabs(b));
    };
    EXPECT_TRUE(same_value(got[k].logprob, want.logprob)) << where << ": " << got[k].logprob << " vs " << want.logprob;
    ASSERT_EQ(got[k].top_logprobs.size(), want.top_logprobs.size()) << where;
    for (size_t j = 0; j < want.top_logprobs.size(); ++j) {
      EXPECT_EQ(got[k].top_logprobs[j].id, want.top_logprobs[j].id) << where << ", top " << j;
      EXPECT_TRUE(same_value(got[k].top_logprobs[j].logprob, want.top_logprobs[j].logprob)) << where << ", top " << j;
    }
  }
}

TEST(CudaSampleRows, DeviceChoicesEqualChooseTokenForEveryParameterSet) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  engine::Rng rows_rng(rng.seed());
  for (const int vocab : {1000, 32000, 128256}) {
    const int rows = 6;
    const std::vector<float> logits = test::sample_test_rows(rows_rng, rows, vocab);
    const auto& sets = test::sample_parameter_sets();
    std::vector<SamplePlan> plans;
    std::vector<RowSample> samples;
    plans.reserve(sets.size() * rows * 4);
    for (const test::SampleParams& p : sets) {
      for (int r = 0; r < rows; ++r) {
        for (int draw = 0; draw < 4; ++draw) {
          plans.push_back(test::sample_plan_of(p, rng.uniform(0.0f, 1.0f)));
          // Log-probabilities on some: the chosen token's alone, and top lists.
          plans.back().logprobs = draw >= 2;
          plans.back().n_logprobs = draw == 3 ? (r % 2 ? 20 : 5) : 0;
          samples.push_back({r, &plans.back()});
        }
      }
    }
    expect_device_equals_host(logits, vocab, samples, "vocab " + std::to_string(vocab));
  }
}

TEST(CudaSampleRows, PenaltiesBiasAndMasksAreAppliedAsOnTheHost) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  engine::Rng cases(rng.seed());
  const int vocab = 32000, rows = 5;
  const std::vector<float> logits = test::sample_test_rows(cases, rows, vocab);
  std::vector<SamplePlan> plans;
  std::vector<std::vector<uint64_t>> masks;
  std::vector<RowSample> samples;
  for (const auto& [row, plan] : test::penalty_samples(cases, rows, vocab, &plans, &masks))
    samples.push_back({row, plan});
  expect_device_equals_host(logits, vocab, samples, "penalties, bias, masks");
}

// A flat distribution whose top-p nucleus is not among the shortlisted
// tokens goes back to the host, which chooses from the untouched row.
TEST(CudaSampleRows, FlatTopPRowsAreFinishedOnTheHostIdentically) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int vocab = 50000;
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (float& x : logits) x = rng.uniform(-0.01f, 0.01f);
  std::vector<SamplePlan> plans;
  std::vector<RowSample> samples;
  plans.reserve(32);
  for (int k = 0; k < 32; ++k) {
    plans.push_back(test::sample_plan_of({"flat", false, 1.0f, 0, 0.5f, 0.0f}, rng.uniform(0.0f, 1.0f)));
    samples.push_back({0, &plans.back()});
  }
  expect_device_equals_host(logits, vocab, samples, "flat top-p");
}

// A backend step with samples: the tokens equal choose_token on the logits
// the same step returns without samples, step after step (prefill, eager
// decode, captured and replayed decode graphs).
TEST(CudaBackendSampling, StepsWithSamplesEqualHostChoicesOnTheirLogits) {
  LLMD_REQUIRE_GPU();
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  auto model = Model::load(test::shared_file("models/stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto device = cuda_backend(**model);
  auto host = cuda_backend(**model);
  ASSERT_TRUE(device && host);
  ASSERT_TRUE(device->samples_rows());
  const KvCacheShape kv{.n_blocks = 64, .block_size = 16, .dtype = KvDtype::f16};
  ASSERT_TRUE(device->init_kv(kv).ok());
  ASSERT_TRUE(host->init_kv(kv).ok());

  const std::vector<std::vector<int32_t>> prompts = {{1, 403, 407, 261}, {1, 9, 33, 60, 70, 80}, {1, 5}};
  const std::vector<test::SampleParams> sets = {
      {"t0.8_top_p0.95", false, 0.8f, 0, 0.95f, 0.0f}, {"top_k20", false, 1.0f, 20, 1.0f, 0.0f},
      {"greedy", true, 1.0f, 0, 1.0f, 0.0f}};
  std::vector<Sampler> dev_samplers, host_samplers;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingParams sp;
    sp.temperature = sets[i].greedy ? 0.0f : sets[i].temperature;
    sp.top_k = sets[i].top_k;
    sp.top_p = sets[i].top_p;
    sp.frequency_penalty = 0.5f;
    sp.seed = 1000 + i;
    dev_samplers.emplace_back(sp);
    host_samplers.emplace_back(sp);
  }
  std::vector<std::vector<int32_t>> tables, tokens = prompts, generated(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) tables.push_back(iota_table(8, static_cast<int>(i) * 8));
  const int32_t vocab = (*model)->config().n_vocab;
  for (int step = 0; step < 12; ++step) {
    ForwardBatch b;
    std::vector<std::vector<int32_t>> chunk(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int32_t pos = step == 0 ? 0 : static_cast<int32_t>(tokens[i].size()) - 1;
      chunk[i].assign(tokens[i].begin() + pos, tokens[i].end());
      b.seqs.push_back(seq_of(chunk[i], pos, tables[i], LogitsMode::last));
    }
    std::vector<SamplePlan> dev_plans(prompts.size()), host_plans(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      dev_samplers[i].plan(vocab, prompts[i], generated[i], nullptr, &dev_plans[i]);
      host_samplers[i].plan(vocab, prompts[i], generated[i], nullptr, &host_plans[i]);
      b.samples.push_back({static_cast<int32_t>(i), &dev_plans[i]});
    }
    ForwardOutput dev_out;
    Status st = forward_and_sample(*device, b, &dev_out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(dev_out.sampled.size(), prompts.size());
    EXPECT_TRUE(dev_out.logits.empty()) << "logits copied although the device chose the tokens";
    b.samples.clear();
    ForwardOutput host_out;
    st = host->forward(b, &host_out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const SampledToken want = choose_token(host_out.row(static_cast<int32_t>(i)), host_plans[i]);
      EXPECT_EQ(dev_out.sampled[i].id, want.id) << "step " << step << ", sequence " << i;
      tokens[i].push_back(want.id);
      generated[i].push_back(want.id);
    }
  }
  EXPECT_GT(device->stats().graph_replays, 0u) << "no decode step was replayed from a graph";
  EXPECT_TRUE(device->healthy());

  // A sample naming a row the step does not have is refused before anything runs.
  ForwardBatch bad;
  const std::vector<int32_t> one = {1};
  bad.seqs.push_back(seq_of(one, 0, tables[0], LogitsMode::last));
  SamplePlan p;
  bad.samples.push_back({1, &p});
  ForwardOutput out;
  const Status st = forward_and_sample(*device, bad, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::forward_bad_batch);
  EXPECT_TRUE(device->healthy());
}

}  // namespace
}  // namespace llmd::engine::cuda
