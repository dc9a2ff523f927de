#include "scheduler/validation.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "engine/sampling/sampling_params.hpp"

namespace llmd::scheduler {
namespace {

template <typename... Args>
std::string fmt(const char* f, Args... args) {
  char buf[320];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

}  // namespace

Status check_config(const ModelLimits& model, const SchedulerConfig& c) {
  auto bad = [](std::string m) { return Error(ErrorCode::invalid_config, std::move(m)); };
  if (model.n_ctx < 2) return bad(fmt("model context length must be at least 2 (got %d)", model.n_ctx));
  if (model.n_vocab < 1) return bad(fmt("model vocabulary size must be positive (got %d)", model.n_vocab));
  if (c.max_seqs < 1) return bad(fmt("max_seqs must be at least 1 (got %d)", c.max_seqs));
  if (c.max_batched_tokens < c.max_seqs)
    return bad(fmt("max_batched_tokens (%d) must be at least max_seqs (%d)", c.max_batched_tokens, c.max_seqs));
  if (c.max_choices < 1 || c.max_choices > c.max_seqs)
    return bad(fmt("max_choices must be between 1 and max_seqs (%d) (got %d)", c.max_seqs, c.max_choices));
  if (c.block_size < 1 || c.block_size > 1024) return bad(fmt("block_size must be 1..1024 (got %d)", c.block_size));
  if (c.kv_blocks < 0) return bad(fmt("kv_blocks must not be negative (got %d)", c.kv_blocks));
  if (c.max_context < 0) return bad(fmt("max_context must not be negative (got %d)", c.max_context));
  if (c.max_waiting < 1 || c.max_waiting_per_team < 1)
    return bad("max_waiting and max_waiting_per_team must be positive");
  const FairShareWeights& w = c.weights;
  if (!std::isfinite(w.prompt_token) || !std::isfinite(w.completion_token) || w.prompt_token < 0 ||
      w.completion_token < 0)
    return bad("fair-share token weights must be finite and non-negative");
  return ok_status();
}

Status check_request(const GenerationRequest& r, const ModelLimits& model, const SchedulerConfig& config,
                     int32_t max_context) {
  auto invalid = [](std::string m) { return Error(ErrorCode::invalid_request, std::move(m)); };
  if (!r.on_event) return invalid("on_event must be set");
  if (r.prompt.empty()) return invalid("prompt must contain at least one token");
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= model.n_vocab)
      return invalid(fmt("prompt token %d at position %zu is outside the vocabulary (0..%d)", r.prompt[i], i,
                         model.n_vocab - 1));
  }
  if (r.n < 1 || r.n > config.max_choices)
    return invalid(fmt("n must be between 1 and %d (got %d)", config.max_choices, r.n));
  if (r.max_tokens < 0) return invalid(fmt("max_tokens must not be negative (got %d)", r.max_tokens));
  if (!(r.team_weight > 0) || !std::isfinite(r.team_weight))
    return invalid("team_weight must be a positive finite number");
  for (int32_t id : r.stop_token_ids) {
    if (id < 0 || id >= model.n_vocab) return invalid(fmt("stop token id %d is outside the vocabulary", id));
  }
  const auto n_prompt = static_cast<long long>(r.prompt.size());
  if (r.embed != engine::PoolingType::none) {
    if (model.n_embd <= 0) return invalid("this scheduler's model does not compute embeddings");
    if (r.n != 1) return invalid(fmt("an embedding request has one choice (n = %d)", r.n));
    if (n_prompt > max_context) {
      return Error(ErrorCode::context_length_exceeded,
                   fmt("This model's maximum context length is %d tokens, but the input has %lld tokens.",
                       max_context, n_prompt));
    }
    return ok_status();
  }
  if (n_prompt >= max_context) {
    return Error(ErrorCode::context_length_exceeded,
                 fmt("This model's maximum context length is %d tokens, but the prompt has %lld tokens "
                     "(at least one more is needed for the completion).",
                     max_context, n_prompt));
  }
  if (r.max_tokens > 0 && n_prompt + r.max_tokens > max_context) {
    return Error(ErrorCode::context_length_exceeded,
                 fmt("This model's maximum context length is %d tokens. However, you requested %lld tokens "
                     "(%lld in the prompt, %d for the completion).",
                     max_context, n_prompt + r.max_tokens, n_prompt, r.max_tokens));
  }
  return engine::validate(r.sampling, model.n_vocab);
}

}  // namespace llmd::scheduler
