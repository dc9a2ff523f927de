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

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> prompt,
                              std::span<const int32_t> generated, float penalty, int32_t window,
                              PenaltyScratch* s) {
  s->reserve(logits.size());
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
      if (!in_vocab(id, logits.size()) || s->mark_[id] == s->epoch_) continue;
      s->mark_[id] = s->epoch_;
      float& l = logits[id];
      l = l > 0.0f ? l / penalty : l * penalty;
    }
  };
  penalize(prompt.last(from_prompt));
  penalize(generated.last(from_generated));
}

void apply_presence_frequency(std::span<float> logits, std::span<const int32_t> generated, float presence,
                              float frequency, PenaltyScratch* s) {
  s->reserve(logits.size());
  for (const int32_t id : generated)
    if (in_vocab(id, logits.size())) ++s->count_[id];
  for (const int32_t id : generated) {
    if (!in_vocab(id, logits.size()) || s->count_[id] == 0) continue;
    logits[id] -= static_cast<float>(s->count_[id]) * frequency + presence;
    s->count_[id] = 0;  // applied once per distinct id; leaves the scratch zeroed
  }
}

void apply_logit_bias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias) {
  for (const auto& [id, b] : bias)
    if (in_vocab(id, logits.size())) logits[id] += b;
}

void apply_logit_processors(std::span<float> logits, const SamplingParams& p, std::span<const int32_t> prompt,
                            std::span<const int32_t> generated, PenaltyScratch* scratch) {
  if (p.repetition_penalty != 1.0f)
    apply_repetition_penalty(logits, prompt, generated, p.repetition_penalty, p.repetition_window, scratch);
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f)
    apply_presence_frequency(logits, generated, p.presence_penalty, p.frequency_penalty, scratch);
  if (!p.logit_bias.empty()) apply_logit_bias(logits, p.logit_bias);
}

}  // namespace llmd::engine
