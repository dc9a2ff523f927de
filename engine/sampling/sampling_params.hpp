// SamplingParams: how one request turns a row of logits into a token, and
// validate(), the range check every caller runs before sampling.
//
// The meaning of each field, and the order in which they act, is documented on
// Sampler (sampler.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace llmd::engine {

struct SamplingParams {
  float temperature = 1.0f;          // 0 → greedy (argmax, ties → lowest id); else 0..2
  int32_t top_k = 0;                 // 0 → off; k ≥ vocabulary size is also off
  float top_p = 1.0f;                // (0, 1]; 1 → off
  float min_p = 0.0f;                // [0, 1]; 0 → off
  float repetition_penalty = 1.0f;   // (0, 10]; 1 → off (multiplicative, over the history window)
  int32_t repetition_window = 0;     // ids of prompt + generated the repetition penalty looks at: 0 → all, N → last N
  float presence_penalty = 0.0f;     // [-2, 2], OpenAI semantics, over generated tokens
  float frequency_penalty = 0.0f;    // [-2, 2], OpenAI semantics, over generated tokens
  std::vector<std::pair<int32_t, float>> logit_bias;  // (token id, -100..100) added to logits; repeated ids add up
  std::optional<uint64_t> seed;      // same seed + same input → same output; none → a random seed
  bool logprobs = false;             // fill SampledToken::logprob (implied by n_logprobs > 0)
  int32_t n_logprobs = 0;            // top-n logprobs to return (0..20)

  bool wants_logprobs() const { return logprobs || n_logprobs > 0; }
};

inline constexpr float kMaxTemperature = 2.0f;
inline constexpr float kMaxRepetitionPenalty = 10.0f;
inline constexpr float kMaxAbsPresenceFrequency = 2.0f;
inline constexpr float kMaxAbsLogitBias = 100.0f;
inline constexpr int32_t kMaxTopLogprobs = 20;

// Checks every field against its range for a model with n_vocab tokens. On
// failure the Error has code "invalid_parameter" and a message that starts with
// the offending field's name (as spelled in SamplingParams) followed by a
// space, e.g. "temperature must be between 0 and 2 (got 3.5)".
Status validate(const SamplingParams& p, int32_t n_vocab);

}  // namespace llmd::engine
