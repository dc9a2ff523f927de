// The logit processors that run before temperature: repetition penalty,
// presence and frequency penalties, and logit bias, in that order.
//
//   repetition_penalty r (CTRL-style, multiplicative): every distinct id among
//     the last repetition_window ids of prompt ++ generated (all of them when
//     the window is 0) has its logit l replaced by l / r when l > 0 and by l · r
//     otherwise, once however often the id occurs.
//   presence_penalty a_p, frequency_penalty a_f (OpenAI): every id that occurs
//     c > 0 times in generated has its logit replaced by l - (c · a_f + a_p).
//   logit_bias: each (id, b) adds b to the logit of id (repeated ids add up).
//
// The repetition penalty acts first, on the model's own logits, because its
// sign rule is defined relative to them; the additive terms follow, so a
// caller's bias shifts the final logit by exactly what was asked and a bias of
// -100 bans a token whatever the penalties did. Ids outside the vocabulary are
// ignored (validate() rejects them in logit_bias).
//
// The processors are expressed as a list of edits (id, operation, value)
// applied in order: the host applies them to its row, the CUDA backend sends
// the same list to the device, so both compute the same logits.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/sampling/choice_steps.hpp"
#include "engine/sampling/sampling_params.hpp"

namespace llmd::engine {

// Per-token marks and counts sized to the vocabulary, reused across calls so
// that a penalty costs O(history), not O(n_vocab). Left zeroed after each call.
class PenaltyScratch {
 public:
  void reserve(size_t n_vocab);

 private:
  friend void append_repetition_edits(std::span<const int32_t>, std::span<const int32_t>, float, int32_t, size_t,
                                      PenaltyScratch*, std::vector<LogitEdit>*);
  friend void append_presence_frequency_edits(std::span<const int32_t>, float, float, size_t, PenaltyScratch*,
                                              std::vector<LogitEdit>*);
  std::vector<uint32_t> mark_;  // mark_[id] == epoch_: id already penalized in this call
  uint32_t epoch_ = 0;
  std::vector<int32_t> count_;  // occurrences in generated; zero between calls
};

// Each processor appends, for a vocabulary of n_vocab tokens, the edits it
// makes (one per distinct id it changes; ids outside the vocabulary skipped),
// in the order they are applied.
void append_repetition_edits(std::span<const int32_t> prompt, std::span<const int32_t> generated, float penalty,
                             int32_t window, size_t n_vocab, PenaltyScratch* scratch, std::vector<LogitEdit>* out);
void append_presence_frequency_edits(std::span<const int32_t> generated, float presence, float frequency,
                                     size_t n_vocab, PenaltyScratch* scratch, std::vector<LogitEdit>* out);
void append_logit_bias_edits(std::span<const std::pair<int32_t, float>> bias, size_t n_vocab,
                             std::vector<LogitEdit>* out);

// Replaces *out with the edits of every processor that is on, in the
// documented order.
void logit_edits(const SamplingParams& params, std::span<const int32_t> prompt, std::span<const int32_t> generated,
                 size_t n_vocab, PenaltyScratch* scratch, std::vector<LogitEdit>* out);

// Applies edits in order (apply_edit of choice_steps.hpp); ids outside the
// logits are skipped.
void apply_logit_edits(std::span<float> logits, std::span<const LogitEdit> edits);

}  // namespace llmd::engine
