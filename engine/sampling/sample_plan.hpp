// A sample split in two. What depends on the sequence — its history (for the
// penalties), its random stream, its structured-output constraint — is taken
// on the engine thread into a SamplePlan (Sampler::plan). Choosing the token
// from one row of logits and a plan is then a pure function, choose_token,
// that a backend may run where the logits are: the CUDA backend runs the same
// steps on the device (engine/cuda/kernels/sample_rows.hpp) and only the
// chosen ids cross to the host. Both give the same token for the same logits.
//
// choose_token applies, in this order (sampler.hpp explains each step):
//   0. sanitizing (NaN → -inf, +inf → the largest float);
//   1. the plan's logit edits (penalties, bias), then its token mask;
//   2. greedy: the first id with the largest processed logit;
//   3-4. otherwise weights exp((l - max) / T), then top-k, top-p, min-p;
//   5. the draw with the plan's uniform u;
// and, when asked, the log-probabilities of the processed logits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling/choice_steps.hpp"
#include "engine/sampling/logprobs.hpp"

namespace llmd::engine {

struct SampledToken {
  int32_t id = -1;
  float logprob = 0.0f;                    // NaN unless the plan wants logprobs
  std::vector<TokenLogprob> top_logprobs;  // n_logprobs entries, most likely first
};

struct SamplePlan {
  std::vector<LogitEdit> edits;        // applied in order, ids inside the vocabulary
  std::span<const uint64_t> allowed;   // token mask (bit i % 64 of word i / 64); empty: every token
  bool has_mask = false;               // allowed applies (an empty mask with has_mask allows nothing)
  bool greedy = true;                  // argmax; the fields below up to u are then unused
  float inv_t = 1.0f;                  // 1 / temperature, finite and > 0
  bool plain_t = true;                 // temperature exactly 1
  int32_t top_k = 0;                   // 0 or ≥ n_vocab: off
  float top_p = 1.0f;                  // 1: off
  float min_p = 0.0f;                  // 0: off
  double u = 0.0;                      // the draw, uniform in [0, 1)
  bool logprobs = false;               // fill SampledToken::logprob
  int32_t n_logprobs = 0;              // and this many top logprobs
};

// The token the plan chooses from one row of n_vocab logits (n_vocab > 0;
// id -1 for an empty row). Uses per-thread scratch memory; safe to call from
// several threads at once.
SampledToken choose_token(std::span<const float> logits, const SamplePlan& plan);

}  // namespace llmd::engine
