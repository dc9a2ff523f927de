#include "engine/sampling/sampling_params.hpp"

#include <cmath>
#include <sstream>
#include <string>

namespace llmd::engine {
namespace {

Error invalid(const char* field, const std::string& rule, double got) {
  std::ostringstream msg;
  msg << field << ' ' << rule << " (got " << got << ')';
  return Error(ErrorCode::invalid_parameter, msg.str());
}

// Finite and within [lo, hi]; NaN fails every comparison, so it is rejected too.
bool in_closed(float v, float lo, float hi) { return std::isfinite(v) && v >= lo && v <= hi; }

}  // namespace

Status validate(const SamplingParams& p, int32_t n_vocab) {
  if (n_vocab <= 0) return invalid("n_vocab", "must be positive", n_vocab);
  if (!in_closed(p.temperature, 0.0f, kMaxTemperature))
    return invalid("temperature", "must be between 0 and 2", p.temperature);
  if (p.top_k < 0) return invalid("top_k", "must be 0 (off) or positive", p.top_k);
  if (!(in_closed(p.top_p, 0.0f, 1.0f) && p.top_p > 0.0f))
    return invalid("top_p", "must be greater than 0 and at most 1", p.top_p);
  if (!in_closed(p.min_p, 0.0f, 1.0f)) return invalid("min_p", "must be between 0 and 1", p.min_p);
  if (!(in_closed(p.repetition_penalty, 0.0f, kMaxRepetitionPenalty) && p.repetition_penalty > 0.0f))
    return invalid("repetition_penalty", "must be greater than 0 and at most 10", p.repetition_penalty);
  if (p.repetition_window < 0)
    return invalid("repetition_window", "must be 0 (whole history) or positive", p.repetition_window);
  if (!in_closed(p.presence_penalty, -kMaxAbsPresenceFrequency, kMaxAbsPresenceFrequency))
    return invalid("presence_penalty", "must be between -2 and 2", p.presence_penalty);
  if (!in_closed(p.frequency_penalty, -kMaxAbsPresenceFrequency, kMaxAbsPresenceFrequency))
    return invalid("frequency_penalty", "must be between -2 and 2", p.frequency_penalty);
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= n_vocab)
      return invalid("logit_bias", "token ids must be in [0, " + std::to_string(n_vocab) + ")", id);
    if (!in_closed(bias, -kMaxAbsLogitBias, kMaxAbsLogitBias))
      return invalid("logit_bias", "values must be between -100 and 100 (token " + std::to_string(id) + ")", bias);
  }
  if (p.n_logprobs < 0 || p.n_logprobs > kMaxTopLogprobs)
    return invalid("n_logprobs", "must be between 0 and 20", p.n_logprobs);
  return ok_status();
}

}  // namespace llmd::engine
