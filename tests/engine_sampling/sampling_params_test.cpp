#include "engine/sampling/sampling_params.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

namespace llmd::engine {
namespace {

constexpr int32_t kVocab = 1000;

TEST(ValidateSamplingParams, DefaultsAndEdgesAreValid) {
  EXPECT_TRUE(validate(SamplingParams{}, kVocab).ok());
  SamplingParams p;
  p.temperature = 0.0f;
  p.top_k = kVocab * 10;  // larger than the vocabulary: off
  p.top_p = 1e-6f;
  p.min_p = 1.0f;
  p.repetition_penalty = 10.0f;
  p.repetition_window = 64;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.logit_bias = {{0, -100.0f}, {kVocab - 1, 100.0f}, {0, 5.0f}};
  p.seed = 0;
  p.n_logprobs = 20;
  EXPECT_TRUE(validate(p, kVocab).ok());
  p.temperature = 2.0f;
  EXPECT_TRUE(validate(p, kVocab).ok());
}

struct BadCase {
  const char* field;
  std::function<void(SamplingParams&)> set;
};

TEST(ValidateSamplingParams, ErrorNamesTheParameter) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const BadCase cases[] = {
      {"temperature", [](SamplingParams& p) { p.temperature = -0.1f; }},
      {"temperature", [](SamplingParams& p) { p.temperature = 2.01f; }},
      {"temperature", [&](SamplingParams& p) { p.temperature = nan; }},
      {"temperature", [&](SamplingParams& p) { p.temperature = inf; }},
      {"top_k", [](SamplingParams& p) { p.top_k = -1; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 0.0f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 1.5f; }},
      {"top_p", [&](SamplingParams& p) { p.top_p = nan; }},
      {"min_p", [](SamplingParams& p) { p.min_p = -0.01f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = 1.01f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 0.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = -1.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 11.0f; }},
      {"repetition_penalty", [&](SamplingParams& p) { p.repetition_penalty = nan; }},
      {"repetition_window", [](SamplingParams& p) { p.repetition_window = -5; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = 2.5f; }},
      {"presence_penalty", [&](SamplingParams& p) { p.presence_penalty = -inf; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = -2.5f; }},
      {"logit_bias", [](SamplingParams& p) { p.logit_bias = {{kVocab, 1.0f}}; }},
      {"logit_bias", [](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; }},
      {"logit_bias", [](SamplingParams& p) { p.logit_bias = {{3, 100.5f}}; }},
      {"logit_bias", [&](SamplingParams& p) { p.logit_bias = {{3, nan}}; }},
      {"n_logprobs", [](SamplingParams& p) { p.n_logprobs = 21; }},
      {"n_logprobs", [](SamplingParams& p) { p.n_logprobs = -1; }},
  };
  for (const BadCase& c : cases) {
    SamplingParams p;
    c.set(p);
    const Status s = validate(p, kVocab);
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.error().code, ErrorCode::invalid_parameter);
    EXPECT_EQ(s.error().message.rfind(std::string(c.field) + " ", 0), 0u) << s.error().message;
  }
}

TEST(ValidateSamplingParams, RejectsEmptyVocabulary) {
  const Status s = validate(SamplingParams{}, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind("n_vocab ", 0), 0u);
}

}  // namespace
}  // namespace llmd::engine
