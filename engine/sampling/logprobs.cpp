#include "engine/sampling/logprobs.hpp"

#include <cmath>

#include "engine/sampling/row_kernels.hpp"

namespace llmd::engine {

double log_sum_exp(std::span<const float> logits, float max) {
  return static_cast<double>(max) + std::log(exp_sum(logits, max, 1.0f));
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int32_t n, double lse,
                                       std::vector<Candidate>* scratch) {
  top_k_candidates(logits, n, scratch);
  sort_candidates(scratch);
  std::vector<TokenLogprob> out;
  out.reserve(scratch->size());
  for (const Candidate& c : *scratch)
    out.push_back({c.id, static_cast<float>(static_cast<double>(c.weight) - lse)});
  return out;
}

}  // namespace llmd::engine
