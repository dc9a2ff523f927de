// Cases shared by the tests that hold a token chooser to choose_token (the
// device sampler on a GPU, the sampling kernel's source run on the host):
// the parameter sets, plans made from them, rows of logits with the awkward
// values, and plans with penalties, bias and token masks as a real Sampler
// makes them.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "engine/sampling/rng.hpp"
#include "engine/sampling/sampler.hpp"

namespace llmd::test {

struct SampleParams {
  const char* name;
  bool greedy;
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
};

// Greedy, temperatures, top-k 1-128, top-p, min-p, combinations, and a
// top-k above what the device takes (kSampleMaxTopK), which goes to the host.
inline const std::vector<SampleParams>& sample_parameter_sets() {
  static const std::vector<SampleParams> sets = {
      {"greedy", true, 1.0f, 0, 1.0f, 0.0f},
      {"t0.8", false, 0.8f, 0, 1.0f, 0.0f},
      {"t1", false, 1.0f, 0, 1.0f, 0.0f},
      {"t0.8_top_p0.95", false, 0.8f, 0, 0.95f, 0.0f},
      {"t1_top_p0.5", false, 1.0f, 0, 0.5f, 0.0f},
      {"t1.5_top_p0.9", false, 1.5f, 0, 0.9f, 0.0f},
      {"top_k1", false, 1.0f, 1, 1.0f, 0.0f},
      {"top_k40", false, 1.0f, 40, 1.0f, 0.0f},
      {"top_k128_t0.7", false, 0.7f, 128, 1.0f, 0.0f},
      {"top_k40_top_p0.9_min_p0.05", false, 0.9f, 40, 0.9f, 0.05f},
      {"min_p0.1", false, 1.0f, 0, 1.0f, 0.1f},
      {"top_p0.9_min_p0.2_t2", false, 2.0f, 0, 0.9f, 0.2f},
      {"top_k300", false, 1.0f, 300, 1.0f, 0.0f},
  };
  return sets;
}

inline engine::SamplePlan sample_plan_of(const SampleParams& p, double u) {
  engine::SamplePlan plan;
  plan.greedy = p.greedy;
  plan.inv_t = p.greedy ? 1.0f : 1.0f / p.temperature;
  plan.plain_t = p.temperature == 1.0f;
  plan.top_k = p.top_k;
  plan.top_p = p.top_p;
  plan.min_p = p.min_p;
  plan.u = p.greedy ? 0.0 : u;
  return plan;
}

// rows x vocab logits: peaked (uniform in +-12) and, every third row, flat
// (+-1) rows; row 1 ties at the top, row 3 holds NaN and +inf, row 4 is all
// -inf, row 5 zeros of both signs (the rows that exist).
inline std::vector<float> sample_test_rows(engine::Rng& rng, int rows, int vocab) {
  std::vector<float> l(static_cast<size_t>(rows) * static_cast<size_t>(vocab));
  auto at = [&](int r, int i) -> float& { return l[static_cast<size_t>(r) * static_cast<size_t>(vocab) + i]; };
  for (int r = 0; r < rows; ++r) {
    const float scale = r % 3 == 2 ? 1.0f : 12.0f;
    for (int i = 0; i < vocab; ++i) at(r, i) = static_cast<float>(rng.uniform() * 2.0 - 1.0) * scale;
  }
  if (rows > 1) at(1, 7) = at(1, vocab - 3) = 50.0f;
  if (rows > 3) {
    at(3, 11) = std::numeric_limits<float>::quiet_NaN();
    at(3, 12) = std::numeric_limits<float>::infinity();
  }
  if (rows > 4)
    for (int i = 0; i < vocab; ++i) at(4, i) = -std::numeric_limits<float>::infinity();
  if (rows > 5)
    for (int i = 0; i < vocab; ++i) at(5, i) = i % 2 ? 0.0f : -0.0f;
  return l;
}

// Plans with a repetition window over a 300-token prompt, presence and
// frequency penalties over 80 generated tokens, logit bias (a banned token,
// a repeated id), for every parameter set and row: each plain, with a mask
// of about 400 allowed tokens, and with a mask of three (fewer than top-k
// keeps, with top logprobs). Made by real Samplers, so the edits are a
// request's. The masks live in *masks; plans in *plans (reserved here, so
// the returned pointers stay valid).
inline std::vector<std::pair<int32_t, const engine::SamplePlan*>> penalty_samples(
    engine::Rng& rng, int rows, int vocab, std::vector<engine::SamplePlan>* plans,
    std::vector<std::vector<uint64_t>>* masks) {
  std::vector<int32_t> prompt, generated;
  for (int i = 0; i < 300; ++i) prompt.push_back(static_cast<int32_t>(rng.next() % static_cast<uint64_t>(vocab)));
  for (int i = 0; i < 80; ++i) generated.push_back(static_cast<int32_t>(rng.next() % 200));
  const size_t words = static_cast<size_t>((vocab + 63) / 64);
  masks->assign(2, std::vector<uint64_t>(words, 0));
  for (int i = 0; i < 400; ++i) {
    const auto id = static_cast<size_t>(rng.next() % static_cast<uint64_t>(vocab));
    (*masks)[0][id / 64] |= uint64_t{1} << (id % 64);
  }
  for (const int id : {5, vocab / 2, vocab - 1}) (*masks)[1][id / 64] |= uint64_t{1} << (id % 64);
  const auto& sets = sample_parameter_sets();
  plans->clear();
  plans->reserve(sets.size() * static_cast<size_t>(rows) * 3);
  std::vector<std::pair<int32_t, const engine::SamplePlan*>> samples;
  for (const SampleParams& p : sets) {
    engine::SamplingParams sp;
    sp.temperature = p.greedy ? 0.0f : p.temperature;
    sp.top_k = p.top_k;
    sp.top_p = p.top_p;
    sp.min_p = p.min_p;
    sp.repetition_penalty = 1.3f;
    sp.repetition_window = 256;
    sp.presence_penalty = 0.4f;
    sp.frequency_penalty = 0.3f;
    sp.logit_bias = {{17, 30.0f}, {42, -100.0f}, {17, -5.0f}, {vocab - 1, 12.0f}};
    sp.seed = rng.next();
    engine::Sampler sampler(sp);
    for (int r = 0; r < rows; ++r) {
      plans->push_back(sampler.plan(static_cast<size_t>(vocab), prompt, generated));
      samples.push_back({r, &plans->back()});
      plans->push_back(sampler.plan(static_cast<size_t>(vocab), prompt, generated));
      plans->back().has_mask = true;
      plans->back().allowed = (*masks)[0];
      samples.push_back({r, &plans->back()});
      plans->push_back(sampler.plan(static_cast<size_t>(vocab), prompt, generated));
      plans->back().has_mask = true;
      plans->back().allowed = (*masks)[1];
      plans->back().n_logprobs = 4;
      samples.push_back({r, &plans->back()});
    }
  }
  return samples;
}

}  // namespace llmd::test
