// Sampler: turns one row of logits into the next token of one sequence.
//
// One Sampler per sequence: it holds the request's SamplingParams and its
// random generator, whose state advances with every non-greedy draw. Scratch
// memory (a few vocabulary-sized buffers) is per thread and shared by all
// samplers on it, so many sequences cost no more than one. A sample is plan()
// (history, draw, constraint) then choose_token() (sample_plan.hpp), which a
// backend may run on its device. A Sampler is not
// safe to use from two threads at once; different Samplers are.
//
// sample() applies, in this order:
//   0. Sanitizing: a NaN logit counts as -inf, +inf as the largest float.
//   1. Logit processors (logit_processors.hpp): repetition penalty, then
//      presence / frequency penalties, then logit_bias; then the sequence's
//      TokenConstraint, if any (token_constraint.hpp), sets every token it
//      does not allow to -inf.
//   2. temperature == 0: greedy — the id of the largest processed logit, ties
//      to the lowest id. Truncation cannot change the argmax, so it is skipped,
//      and no random number is used.
//   3. Temperature T > 0: weights w_i = exp((l_i - max) · (1/T)), i.e. the
//      distribution softmax(l / T) unnormalized, with the best token at w = 1
//      (exp as computed by exp_nonpositive in row_kernels.hpp).
//   4. Truncation (truncation.hpp), each on what the previous step kept:
//      top-k (by logit), then top-p (on the top-k set renormalized), then min-p
//      (w_i ≥ min_p, relative to the most likely token).
//   5. Draw: one uniform u in [0, 1) from Rng (xoshiro256**), and the first
//      token whose running weight sum exceeds u · (sum of kept weights). The
//      kept tokens are walked in id order, or under top-k in the order
//      (weight descending, ties to the lower id).
//
// Log-probabilities (when params.wants_logprobs()) are the natural-log
// log-softmax of the processed logits of step 1: after penalties and bias,
// before temperature and truncation. They describe the model's distribution as
// the request shaped it (a banned token shows as very unlikely), do not depend
// on temperature, so greedy requests get meaningful values, and stay finite for
// tokens that truncation removed (OpenAI's top_logprobs list such tokens too).
//
// Reproducibility: the same seed, params and inputs give the same tokens on
// every build and x86-64 machine (the RNG and all arithmetic are fixed; see
// rng.hpp and row_kernels.hpp), whatever the thread or batch. A request that
// needs several independent streams (n > 1) should give each its own seed,
// e.g. seed + index. Inputs mean the logits bit for bit: a backend whose
// logits change with batch composition changes sampled tokens too.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling/rng.hpp"
#include "engine/sampling/sample_plan.hpp"
#include "engine/sampling/sampling_params.hpp"
#include "engine/sampling/token_constraint.hpp"

namespace llmd::engine {

class Sampler {
 public:
  // params should have passed validate() for the model's vocabulary. Values
  // outside the ranges give unspecified tokens but stay safe: no crash, no
  // undefined behaviour, out-of-vocabulary ids ignored.
  explicit Sampler(SamplingParams params);

  // logits: one row of n_vocab floats (n_vocab > 0). prompt / generated: the
  // sequence's ids so far, for the penalties. constraint: the tokens allowed
  // next (the sampler does not advance it). Returns id -1 only for an empty
  // row; when the constraint allows no token the id is one it did not allow.
  SampledToken sample(std::span<const float> logits, std::span<const int32_t> prompt,
                      std::span<const int32_t> generated, TokenConstraint* constraint = nullptr);

  // The first half of sample(): the plan for the next token of a vocabulary
  // of n_vocab, taking the random draw now when the choice is not greedy
  // (sample_plan.hpp). choose_token(logits, plan) then gives what sample()
  // gives. The plan's mask is the constraint's allowed() and is valid until
  // the constraint is next used.
  SamplePlan plan(size_t n_vocab, std::span<const int32_t> prompt, std::span<const int32_t> generated,
                  TokenConstraint* constraint = nullptr);
  // plan() into *out, reusing its memory.
  void plan(size_t n_vocab, std::span<const int32_t> prompt, std::span<const int32_t> generated,
            TokenConstraint* constraint, SamplePlan* out);

  const SamplingParams& params() const { return params_; }
  // params.seed, or the random seed chosen when it had none.
  uint64_t seed() const { return seed_; }

 private:
  SamplingParams params_;
  uint64_t seed_;
  Rng rng_;
};

}  // namespace llmd::engine
