#include "engine/sampling/logit_processors.hpp"

#include <algorithm>

namespace llmd::engine {
namespace {

bool in_vocab(int32_t id, size_t n_vocab) { return id >= 0 && static_cast<size_t>(id) < n_vocab; }

}  // namespace

void PenaltyScratch::reserve(size_t n_vocab) {
  if (mark_.size() < n_vocab) {
    mark_.resize(n_vocab, 0);
    count_.resize(n_vocab, 0);
  }
}

void append_repetition_edits(std::span<const int32_t> prompt, std::span<const int32_t> generated, float penalty,
                             int32_t window, size_t n_vocab, PenaltyScratch* s, std::vector<LogitEdit>* out) {
  s->reserve(n_vocab);
  if (++s->epoch_ == 0) {  // wrapped: forget every old mark
    std::fill(s->mark_.begin(), s->mark_.end(), 0);
    s->epoch_ = 1;
  }
  // The window is the tail of prompt ++ generated.
  size_t from_generated = generated.size(), from_prompt = prompt.size();
  if (window > 0) {
    const auto w = static_cast<size_t>(window);
    from_generated = std::min(from_generated, w);
    from_prompt = std::min(from_prompt, w - from_generated);
  }
  auto penalize = [&](std::span<const int32_t> ids) {
    for (const int32_t id : ids) {
      if (!in_vocab(id, n_vocab) || s->mark_[id] == s->epoch_) continue;
      s->mark_[id] = s->epoch_;
      out->push_back({id, EditOp::repeat, penalty});
    }
  };
  penalize(prompt.last(from_prompt));
  penalize(generated.last(from_generated));
}

void append_presence_frequency_edits(std::span<const int32_t> generated, float presence, float frequency,
                                     size_t n_vocab, PenaltyScratch* s, std::vector<LogitEdit>* out) {
  s->reserve(n_vocab);
  for (const int32_t id : generated)
    if (in_vocab(id, n_vocab)) ++s->count_[id];
  for (const int32_t id : generated) {
    if (!in_vocab(id, n_vocab) || s->count_[id] == 0) continue;
    out->push_back({id, EditOp::subtract, static_cast<float>(s->count_[id]) * frequency + presence});
    s->count_[id] = 0;  // one edit per distinct id; leaves the scratch zeroed
  }
}

void append_logit_bias_edits(std::span<const std::pair<int32_t, float>> bias, size_t n_vocab,
                             std::vector<LogitEdit>* out) {
  for (const auto& [id, b] : bias)
    if (in_vocab(id, n_vocab)) out->push_back({id, EditOp::add, b});
}

void logit_edits(const SamplingParams& p, std::span<const int32_t> prompt, std::span<const int32_t> generated,
                 size_t n_vocab, PenaltyScratch* scratch, std::vector<LogitEdit>* out) {
  out->clear();
  if (p.repetition_penalty != 1.0f)
    append_repetition_edits(prompt, generated, p.repetition_penalty, p.repetition_window, n_vocab, scratch, out);
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f)
    append_presence_frequency_edits(generated, p.presence_penalty, p.frequency_penalty, n_vocab, scratch, out);
  if (!p.logit_bias.empty()) append_logit_bias_edits(p.logit_bias, n_vocab, out);
}

void apply_logit_edits(std::span<float> logits, std::span<const LogitEdit> edits) {
  for (const LogitEdit& e : edits) {
    if (!in_vocab(e.id, logits.size())) continue;  // the builders never make one; a plan from elsewhere might
    float& l = logits[static_cast<size_t>(e.id)];
    l = apply_edit(l, e.op, e.value);
  }
}

}  // namespace llmd::engine
