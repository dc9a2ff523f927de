// Log-probabilities reported with sampled tokens: log-softmax of the logits
// after penalties and logit bias, before temperature and truncation (see
// sampler.hpp for why).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling/truncation.hpp"

namespace llmd::engine {

struct TokenLogprob {
  int32_t id;
  float logprob;  // natural log; -inf for a token whose logit is -inf
};

// log Σ_i exp(logits[i]), given max = the largest logit (finite).
double log_sum_exp(std::span<const float> logits, float max);

// The n tokens with the largest logits (ties → lower id), most likely first,
// each with logit - lse. scratch is reused memory.
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n, double lse,
                                       std::vector<Candidate>* scratch);

}  // namespace llmd::engine
