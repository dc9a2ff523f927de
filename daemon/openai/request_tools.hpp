// Tool calling in a chat request: "tools" (function tools), "tool_choice"
// ("auto" or "none"; "required" and a named function need constrained
// decoding, which llmd does not implement yet, and are refused by name),
// "parallel_tool_calls", and JSON values turned into what a chat template
// sees (every string marked as the caller's text).
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>

#include "daemon/openai/api_request.hpp"
#include "engine/jinja/value.hpp"

namespace llmd::openai::detail {

inline constexpr size_t kMaxTools = 128;

// "tools": an array of {"type": "function", "function": {"name", "description"?,
// "parameters"? (an object), "strict"?}}; names are 1-64 of [A-Za-z0-9_-].
std::optional<ApiError> parse_tools(const boost::json::value& v, engine::jinja::Value* out);

// "tool_choice": sets *offer to false for "none".
std::optional<ApiError> parse_tool_choice(const boost::json::value& v, bool* offer);

// A JSON value as a template value; strings tainted (they are the caller's).
engine::jinja::Value template_value(const boost::json::value& v);

}  // namespace llmd::openai::detail
