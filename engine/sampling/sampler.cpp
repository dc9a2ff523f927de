#include "engine/sampling/sampler.hpp"

#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "engine/sampling/logit_processors.hpp"
#include "engine/sampling/row_kernels.hpp"
#include "engine/sampling/truncation.hpp"

namespace llmd::engine {
namespace {

// Vocabulary-sized buffers, one set per thread, reused by every Sampler on it.
struct Workspace {
  std::vector<float> logits;        // [n_vocab] processed logits
  std::vector<float> weights;       // [n_vocab] tempered weights (dense paths)
  std::vector<double> block_sums;   // [ceil(n_vocab / kRowBlock)] sums of weights per block
  std::vector<Candidate> kept;      // tokens left after truncation
  TopPScratch top_p;
  std::vector<Candidate> top;       // scratch for top logprobs
  PenaltyScratch penalties;
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

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

// The last token of [begin, end) with positive weight, or -1.
int32_t last_positive(std::span<const float> w, size_t begin, size_t end) {
  for (size_t i = end; i > begin; --i)
    if (w[i - 1] > 0.0f) return static_cast<int32_t>(i - 1);
  return -1;
}

// Inverse-CDF draw over dense weights in id order, using the per-block sums to
// skip to the right block. Rounding between the block sums and the running sum
// can leave the target unreached inside a block: the block's last positive
// weight is then taken.
int32_t draw_dense(std::span<const float> w, const std::vector<double>& block_sums, double total, double u) {
  const double target = u * total;
  double before = 0.0;
  for (size_t b = 0; b < block_sums.size(); ++b) {
    const size_t begin = b * kRowBlock, end = std::min(w.size(), begin + kRowBlock);
    if (before + block_sums[b] > target) {
      double running = before;
      for (size_t i = begin; i < end; ++i) {
        running += w[i];
        if (running > target) return static_cast<int32_t>(i);
      }
      const int32_t id = last_positive(w, begin, end);
      if (id >= 0) return id;
    }
    before += block_sums[b];
  }
  const int32_t id = last_positive(w, 0, w.size());
  return id >= 0 ? id : 0;
}

// Inverse-CDF draw over the kept candidates in their order.
int32_t draw_candidates(const std::vector<Candidate>& kept, double u) {
  double total = 0.0;
  for (const Candidate& c : kept) total += c.weight;
  const double target = u * total;
  double running = 0.0;
  for (const Candidate& c : kept) {
    running += c.weight;
    if (running > target) return c.id;
  }
  return kept.empty() ? 0 : kept.back().id;
}

}  // namespace

Sampler::Sampler(SamplingParams params)
    : params_(std::move(params)), seed_(params_.seed ? *params_.seed : random_seed()), rng_(seed_) {}

SampledToken Sampler::sample(std::span<const float> logits_in, std::span<const int32_t> prompt,
                             std::span<const int32_t> generated, TokenConstraint* constraint) {
  SampledToken out;
  out.logprob = std::numeric_limits<float>::quiet_NaN();
  const size_t n = logits_in.size();
  if (n == 0) return out;

  Workspace& ws = workspace();
  ws.logits.resize(n);
  const std::span<float> logits(ws.logits);
  copy_sanitized(logits_in, logits);
  apply_logit_processors(logits, params_, prompt, generated, &ws.penalties);
  if (constraint) apply_token_mask(logits, constraint->allowed());
  const float max = max_value(logits);
  // Greedy also when 1/T is not finite (T subnormal or NaN), so that scaled
  // logits are never NaN.
  const float inv_t = 1.0f / params_.temperature;
  const bool greedy = !(params_.temperature > 0.0f) || !std::isfinite(inv_t);
  const double u = greedy ? 0.0 : rng_.uniform();  // exactly one draw per non-greedy sample

  // Σ exp(l - max): the softmax normalizer, when a path computes it for free.
  double normalizer = -1.0;
  if (max == -std::numeric_limits<float>::infinity()) {
    out.id = 0;  // every token impossible: nothing sensible to draw
  } else if (greedy) {
    out.id = static_cast<int32_t>(find_at_least(logits, 0, max));  // first id with the largest logit
  } else {
    const bool plain_t = params_.temperature == 1.0f;
    const auto k = static_cast<size_t>(params_.top_k);
    const bool use_top_k = k > 0 && k < n, use_top_p = params_.top_p < 1.0f;
    if (use_top_k) {
      top_k_candidates(logits, params_.top_k, &ws.kept);
      double total = 0.0;
      for (Candidate& c : ws.kept) {
        c.weight = exp_nonpositive((c.weight - max) * inv_t);
        total += c.weight;
      }
      sort_candidates(&ws.kept);  // canonical order for the draw
      if (use_top_p) keep_top_p_prefix(&ws.kept, total, params_.top_p);
      if (params_.min_p > 0.0f) keep_at_least(&ws.kept, params_.min_p);
      out.id = draw_candidates(ws.kept, u);
    } else {
      // Dense paths: weights over the whole vocabulary, drawn in id order.
      ws.weights.resize(n);
      const std::span<float> w(ws.weights);
      double total = exp_weights(logits, max, inv_t, use_top_p ? 0.0f : params_.min_p, w, &ws.block_sums);
      if (plain_t && (use_top_p || params_.min_p == 0.0f)) normalizer = total;
      if (use_top_p) {
        const std::optional<Candidate> last = top_p_end(w, total, params_.top_p, &ws.top_p);
        total = last ? keep_weights(w, params_.min_p, last->weight, last->id, &ws.block_sums)
                     : keep_weights(w, params_.min_p, 0.0f, std::numeric_limits<int32_t>::max(), &ws.block_sums);
      }
      out.id = draw_dense(w, ws.block_sums, total, u);
    }
  }

  if (params_.wants_logprobs()) {
    if (max == -std::numeric_limits<float>::infinity()) {
      out.logprob = -std::numeric_limits<float>::infinity();
      out.top_logprobs = top_logprobs(logits, params_.n_logprobs, 0.0, &ws.top);
    } else {
      const double lse = normalizer > 0.0 ? static_cast<double>(max) + std::log(normalizer)
                                          : log_sum_exp(logits, max);
      out.logprob = static_cast<float>(static_cast<double>(logits[out.id]) - lse);
      out.top_logprobs = top_logprobs(logits, params_.n_logprobs, lse, &ws.top);
    }
  }
  return out;
}

}  // namespace llmd::engine
