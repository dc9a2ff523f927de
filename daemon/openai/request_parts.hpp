// Parsers of the structured fields of a completion request: chat messages,
// completion prompts, stop strings and logit_bias. Internal to openai/.
#pragma once

#include <boost/json/value.hpp>

#include <optional>

#include "daemon/openai/api_request.hpp"

namespace llmd::openai::detail {

// "messages": a non-empty array of {role, content}; content a string or an
// array of {"type": "text", "text": ...} parts; assistant messages may carry
// "tool_calls", tool messages a "tool_call_id" (and "name"). Also fills the
// messages as a chat template sees them, and *tool_messages when the
// conversation has tool calls or results.
std::optional<ApiError> parse_messages(const boost::json::value& v, std::vector<engine::ChatMessage>* out,
                                       engine::jinja::Value* template_messages, bool* tool_messages);

// A prompt field ("prompt" of completions, "input" of embeddings): a string,
// an array of strings, an array of token ids, or an array of arrays of token
// ids; nothing empty, at most `max_count` (named `plural` in the message).
std::optional<ApiError> parse_prompt_inputs(const boost::json::value& v, const std::string& param, std::string_view plural,
                                            int32_t max_count, std::vector<PromptInput>* out);

// "stop": a string or an array of at most kMaxStopStrings strings.
std::optional<ApiError> parse_stop(const boost::json::value& v, std::vector<std::string>* out);

// "logit_bias": {"<token id>": bias in [-100, 100], ...}.
std::optional<ApiError> parse_logit_bias(const boost::json::value& v, std::vector<std::pair<int64_t, float>>* out);

}  // namespace llmd::openai::detail
