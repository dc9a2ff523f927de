#include "engine/sampling/sample_plan.hpp"

#include <cmath>
#include <limits>
#include <optional>

#include "engine/sampling/logit_processors.hpp"
#include "engine/sampling/row_kernels.hpp"
#include "engine/sampling/token_constraint.hpp"
#include "engine/sampling/truncation.hpp"

namespace llmd::engine {
namespace {

// Vocabulary-sized buffers, one set per thread, reused by every choice on it.
struct Workspace {
  std::vector<float> logits;        // [n_vocab] processed logits
  std::vector<float> weights;       // [n_vocab] tempered weights (dense paths)
  std::vector<double> block_sums;   // [ceil(n_vocab / kRowBlock)] sums of weights per block
  std::vector<Candidate> kept;      // tokens left after truncation
  TopPScratch top_p;
  std::vector<Candidate> top;       // scratch for top logprobs
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

}  // namespace

SampledToken choose_token(std::span<const float> logits_in, const SamplePlan& plan) {
  SampledToken out;
  out.logprob = std::numeric_limits<float>::quiet_NaN();
  const size_t n = logits_in.size();
  if (n == 0) return out;

  Workspace& ws = workspace();
  ws.logits.resize(n);
  const std::span<float> logits(ws.logits);
  copy_sanitized(logits_in, logits);
  apply_logit_edits(logits, plan.edits);
  if (plan.has_mask) apply_token_mask(logits, plan.allowed);
  const float max = max_value(logits);

  // Σ exp(l - max): the softmax normalizer, when a path computes it for free.
  double normalizer = -1.0;
  if (max == -std::numeric_limits<float>::infinity()) {
    out.id = 0;  // every token impossible: nothing sensible to draw
  } else if (plan.greedy) {
    out.id = static_cast<int32_t>(find_at_least(logits, 0, max));  // first id with the largest logit
  } else {
    const auto k = static_cast<size_t>(plan.top_k);
    const bool use_top_k = plan.top_k > 0 && k < n, use_top_p = plan.top_p < 1.0f;
    if (use_top_k) {
      top_k_candidates(logits, plan.top_k, &ws.kept);
      for (Candidate& c : ws.kept) c.weight = tempered_weight(c.weight, max, plan.inv_t, 0.0f);
      sort_candidates(&ws.kept);  // canonical order for the sums and the draw
      if (use_top_p) {
        double total = 0.0;
        for (const Candidate& c : ws.kept) total += c.weight;
        keep_top_p_prefix(&ws.kept, total, plan.top_p);
      }
      if (plan.min_p > 0.0f) keep_at_least(&ws.kept, plan.min_p);
      out.id = draw_candidates(ws.kept.data(), ws.kept.size(), plan.u);
    } else {
      // Dense paths: weights over the whole vocabulary, drawn in id order.
      ws.weights.resize(n);
      const std::span<float> w(ws.weights);
      double total = exp_weights(logits, max, plan.inv_t, use_top_p ? 0.0f : plan.min_p, w, &ws.block_sums);
      if (plan.plain_t && (use_top_p || plan.min_p == 0.0f)) normalizer = total;
      if (use_top_p) {
        const std::optional<Candidate> last = top_p_end(w, total, plan.top_p, &ws.top_p);
        total = last ? keep_weights(w, plan.min_p, last->weight, last->id, &ws.block_sums)
                     : keep_weights(w, plan.min_p, 0.0f, std::numeric_limits<int32_t>::max(), &ws.block_sums);
      }
      out.id = draw_dense(w.data(), n, ws.block_sums.data(), ws.block_sums.size(), total, plan.u);
    }
  }

  if (plan.logprobs || plan.n_logprobs > 0) {
    if (max == -std::numeric_limits<float>::infinity()) {
      out.logprob = -std::numeric_limits<float>::infinity();
      out.top_logprobs = top_logprobs(logits, plan.n_logprobs, 0.0, &ws.top);
    } else {
      const double lse = normalizer > 0.0 ? static_cast<double>(max) + std::log(normalizer)
                                          : log_sum_exp(logits, max);
      out.logprob = static_cast<float>(static_cast<double>(logits[out.id]) - lse);
      out.top_logprobs = top_logprobs(logits, plan.n_logprobs, lse, &ws.top);
    }
  }
  return out;
}

}  // namespace llmd::engine
