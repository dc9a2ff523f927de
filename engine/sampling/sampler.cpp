#include "engine/sampling/sampler.hpp"

#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "engine/sampling/logit_processors.hpp"
#include "engine/sampling/token_constraint.hpp"

namespace llmd::engine {
namespace {

// A seed for requests without one: 8 bytes from the kernel's random source,
// mixed with the clock and a counter so that two samplers never share a seed
// even if that source fails.
uint64_t random_seed() {
  static std::atomic<uint64_t> counter{0};
  uint64_t entropy = 0;
  if (getrandom(&entropy, sizeof entropy, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof entropy)) entropy = 0;
  const auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  uint64_t x = entropy ^ now ^ (counter.fetch_add(1, std::memory_order_relaxed) * 0x9e3779b97f4a7c15ULL);
  return Rng::splitmix64(&x);
}

}  // namespace

Sampler::Sampler(SamplingParams params)
    : params_(std::move(params)), seed_(params_.seed ? *params_.seed : random_seed()), rng_(seed_) {}

void Sampler::plan(size_t n_vocab, std::span<const int32_t> prompt, std::span<const int32_t> generated,
                   TokenConstraint* constraint, SamplePlan* out) {
  thread_local PenaltyScratch penalties;
  logit_edits(params_, prompt, generated, n_vocab, &penalties, &out->edits);
  out->has_mask = constraint != nullptr;
  out->allowed = constraint ? constraint->allowed() : std::span<const uint64_t>{};
  // Greedy also when 1/T is not finite (T subnormal or NaN), so that scaled
  // logits are never NaN.
  const float inv_t = 1.0f / params_.temperature;
  out->greedy = !(params_.temperature > 0.0f) || !std::isfinite(inv_t);
  out->inv_t = out->greedy ? 1.0f : inv_t;
  out->plain_t = params_.temperature == 1.0f;
  out->top_k = params_.top_k;
  out->top_p = params_.top_p;
  out->min_p = params_.min_p;
  out->u = out->greedy ? 0.0 : rng_.uniform();  // exactly one draw per non-greedy sample
  out->logprobs = params_.wants_logprobs();
  out->n_logprobs = params_.n_logprobs;
}

SamplePlan Sampler::plan(size_t n_vocab, std::span<const int32_t> prompt, std::span<const int32_t> generated,
                         TokenConstraint* constraint) {
  SamplePlan p;
  plan(n_vocab, prompt, generated, constraint, &p);
  return p;
}

SampledToken Sampler::sample(std::span<const float> logits, std::span<const int32_t> prompt,
                             std::span<const int32_t> generated, TokenConstraint* constraint) {
  if (logits.empty()) return choose_token(logits, SamplePlan{});
  thread_local SamplePlan p;
  plan(logits.size(), prompt, generated, constraint, &p);
  return choose_token(logits, p);
}

}  // namespace llmd::engine
