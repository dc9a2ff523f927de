// "tool_choice": let the model decide (auto), offer no tools (none), force a
// call (required) or a call of one named function.
enum class ToolChoice { automatic, none, required, named };

// A validated OpenAI completion request (POST /v1/chat/completions or
// POST /v1/completions) and the error that refuses one.
//
// Parsing checks types and ranges of every field llmd acts on (a
// response_format schema is compiled into its grammar here); fields of the
// OpenAI API that llmd does not implement are refused by name. What needs the model (token ids against the vocabulary, the
// context length, rendering the chat template) is checked once the model is
// known, in the handler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/chat_template.hpp"
#include "engine/jinja/value.hpp"
#include "engine/sampling/sampling_params.hpp"
#include "engine/structured/grammar.hpp"
#include "engine/structured/tool_call_grammar.hpp"
#include "scheduler/request.hpp"

namespace llmd::openai {

enum class Endpoint { chat, completions };

// An answer other than 200: {"error": {message, type, param, code}}.
struct ApiError {
  int status = 400;
  std::string message;
  std::string code;   // "context_length_exceeded", "model_not_found", ... or empty (null)
  std::string param;  // the offending field ("messages[0].content", "n"), or empty (null)
};

// One prompt of /v1/completions: text, or token ids as given.
struct PromptInput {
  std::string text;
  std::vector<int64_t> ids;
  bool is_ids = false;
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::chat;
  std::string model;

  std::vector<engine::ChatMessage> messages;  // chat
  engine::jinja::Value template_messages;     // chat: the messages as a chat template sees them
  bool tool_messages = false;                 // chat: the conversation has tool calls or tool results
  engine::jinja::Value tools;                 // chat: tools offered to the model (Undefined: none)
  bool parallel_tool_calls = true;            // chat: more than one call per answer
  std::vector<engine::structured::ToolSchema> tool_schemas;  // chat: each tool's name and parameters schema
  ToolChoice tool_choice = ToolChoice::automatic;            // chat
  std::string tool_choice_name;               // chat: the function of ToolChoice::named
  engine::structured::GrammarPtr response_grammar;  // chat: response_format json_object / json_schema
  std::vector<PromptInput> prompts;           // completions: one or more
  bool echo = false;                          // completions: the prompt text starts each choice

  std::optional<int64_t> max_tokens;          // per choice; unset: chat until the context limit, completions 16
  int32_t n = 1;                              // >= 1; the model's max_choices is checked later
  std::vector<std::string> stop;              // up to 4, none empty
  engine::SamplingParams sampling;            // temperature, top_p, penalties, seed (logit_bias ids unchecked)
  std::vector<std::pair<int64_t, float>> logit_bias;  // token id (unchecked) and bias
  bool stream = false;
  bool include_usage = false;                 // stream_options.include_usage
  bool logprobs = false;                      // report the sampled tokens' log-probabilities
  int32_t top_logprobs = 0;                   // and this many alternatives per position
  bool ignore_eos = false;                    // extension: keep generating past end-of-generation tokens
  // extension "priority" ("interactive" | "batch"), or service_tier "flex";
  // the llmd-priority header overrides both; unset: the key's class.
  std::optional<scheduler::Priority> priority;
};

inline constexpr int32_t kMaxStopStrings = 4;
inline constexpr int32_t kMaxPrompts = 64;       // strings or id lists in one completions request
inline constexpr int32_t kDefaultCompletionMaxTokens = 16;
inline constexpr int32_t kJsonMaxDepth = 64;

// Parses a request body for `endpoint`: nullopt on success with `out` filled,
// else the 400 to answer.
std::optional<ApiError> parse_completion_request(Endpoint endpoint, std::string_view body, CompletionRequest* out);

}  // namespace llmd::openai
