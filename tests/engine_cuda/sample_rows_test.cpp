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
#include "tests/support/shared_data.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::Rng;
using namespace test_fixtures;

struct Params {
  std::string name;
  bool greedy = false;
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
};

std::vector<Params> parameter_sets() {
  return {
      {"greedy", true},
      {"t0.8", false, 0.8f},
      {"t1", false, 1.0f},
      {"t0.8_top_p0.95", false, 0.8f, 0, 0.95f},
      {"t1_top_p0.5", false, 1.0f, 0, 0.5f},
      {"t1.5_top_p0.9", false, 1.5f, 0, 0.9f},
      {"top_k1", false, 1.0f, 1},
      {"top_k40", false, 1.0f, 40},
      {"top_k128_t0.7", false, 0.7f, 128},
      {"top_k40_top_p0.9_min_p0.05", false, 0.9f, 40, 0.9f, 0.05f},
      {"min_p0.1", false, 1.0f, 0, 1.0f, 0.1f},
      {"top_p0.9_min_p0.2_t2", false, 2.0f, 0, 0.9f, 0.2f},
      {"top_k300_host", false, 1.0f, 300},
  };
}

SamplePlan plan_of(const Params& p, double u) {
  SamplePlan plan;
  plan.greedy = p.greedy;
  plan.inv_t = p.greedy ? 1.0f : 1.0f / p.temperature;
  plan.plain_t = p.temperature == 1.0f;
  plan.top_k = p.top_k;
  plan.top_p = p.top_p;
  plan.min_p = p.min_p;
  plan.u = p.greedy ? 0.0 : u;
  return plan;
}

// Rows of several shapes: peaked (scale 6) and flat (scale 0.5) normal
// logits, exact ties at the maximum, NaN and +inf entries, a row of -inf.
std::vector<float> test_rows(Rng& rng, int rows, int vocab) {
  std::vector<float> l(static_cast<size_t>(rows) * static_cast<size_t>(vocab));
  for (int r = 0; r < rows; ++r) {
    float* row = l.data() + static_cast<size_t>(r) * static_cast<size_t>(vocab);
    const float sd = r % 3 == 2 ? 0.5f : 6.0f;
    for (int i = 0; i < vocab; ++i) row[i] = rng.normal(sd);
  }
  auto at = [&](int r, int i) -> float& { return l[static_cast<size_t>(r) * static_cast<size_t>(vocab) + i]; };
  if (rows > 3) {
    at(1, 7) = at(1, vocab - 3) = 50.0f;  // a tie at the top
    at(3, 11) = std::numeric_limits<float>::quiet_NaN();
    at(3, 12) = std::numeric_limits<float>::infinity();
  }
  if (rows > 4)
    for (int i = 0; i < vocab; ++i) at(4, i) = -std::numeric_limits<float>::infinity();
  return l;
}

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
  for (const int vocab : {1000, 32000, 128256}) {
    const int rows = 6;
    const std::vector<float> logits = test_rows(rng, rows, vocab);
    std::vector<SamplePlan> plans;
    std::vector<RowSample> samples;
    const auto sets = parameter_sets();
    plans.reserve(sets.size() * rows * 4);
    for (const Params& p : sets) {
      for (int r = 0; r < rows; ++r) {
        for (int draw = 0; draw < 4; ++draw) {
          plans.push_back(plan_of(p, rng.uniform(0.0f, 1.0f)));
          // Log-probabilities on some: the chosen token's alone, and top lists.
          plans.back().logprobs = draw >= 2;
          plans.back().n_logprobs = draw == 2 ? 0 : draw == 3 ? (r % 2 ? 20 : 5) : 0;
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
  const int vocab = 32000, rows = 4;
  const std::vector<float> logits = test_rows(rng, rows, vocab);
  // History and parameters through the real Sampler, so the edits are the
  // ones a request makes.
  std::vector<int32_t> prompt, generated;
  for (int i = 0; i < 300; ++i) prompt.push_back(rng.range(0, vocab - 1));
  for (int i = 0; i < 80; ++i) generated.push_back(rng.range(0, 200));
  std::vector<uint64_t> mask((vocab + 63) / 64, 0);
  for (int i = 0; i < 500; ++i) {
    const int id = rng.range(0, vocab - 1);
    mask[id / 64] |= uint64_t{1} << (id % 64);
  }
  std::vector<uint64_t> three((vocab + 63) / 64, 0);
  for (const int id : {5, 9000, 31999}) three[id / 64] |= uint64_t{1} << (id % 64);

  std::vector<SamplePlan> plans;
  std::vector<RowSample> samples;
  plans.reserve(256);
  for (const Params& p : parameter_sets()) {
    SamplingParams sp;
    sp.temperature = p.greedy ? 0.0f : p.temperature;
    sp.top_k = p.top_k;
    sp.top_p = p.top_p;
    sp.min_p = p.min_p;
    sp.repetition_penalty = 1.3f;
    sp.repetition_window = 256;
    sp.presence_penalty = 0.4f;
    sp.frequency_penalty = 0.3f;
    sp.logit_bias = {{17, 30.0f}, {42, -100.0f}, {17, -5.0f}, {vocab - 1, 12.0f}};
    sp.seed = rng.gen()();
    Sampler sampler(sp);
    for (int r = 0; r < rows; ++r) {
      plans.push_back(sampler.plan(vocab, prompt, generated));
      samples.push_back({r, &plans.back()});
      plans.push_back(sampler.plan(vocab, prompt, generated));
      plans.back().has_mask = true;
      plans.back().allowed = mask;
      samples.push_back({r, &plans.back()});
      plans.push_back(sampler.plan(vocab, prompt, generated));
      plans.back().has_mask = true;
      plans.back().allowed = three;  // fewer tokens allowed than top-k keeps
      plans.back().logprobs = true;
      plans.back().n_logprobs = 4;
      samples.push_back({r, &plans.back()});
    }
  }
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
    plans.push_back(plan_of({"flat", false, 1.0f, 0, 0.5f}, rng.uniform(0.0f, 1.0f)));
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
  const std::vector<Params> sets = {{"t0.8_top_p0.95", false, 0.8f, 0, 0.95f}, {"top_k20", false, 1.0f, 20},
                                    {"greedy", true}};
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
