// Tool calling in a chat request: "tools" (function tools), "tool_choice"
// ("auto", "none", "required" or {"type": "function", "function": {"name"}};
// the last two are forced by constrained decoding, see
// engine/structured/tool_call_grammar.hpp), "parallel_tool_calls", and JSON
// values turned into what a chat template sees (every string marked as the
// caller's text).
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <vector>
#include <string>

#include "daemon/openai/api_request.hpp"
#include "engine/jinja/value.hpp"

namespace llmd::openai::detail {

inline constexpr size_t kMaxTools = 128;

// "tools": an array of {"type": "function", "function": {"name", "description"?,
// "parameters"? (an object), "strict"?}}; names are 1-64 of [A-Za-z0-9_-].
// Each tool's name and parameters schema (as JSON text) go to *schemas.
std::optional<ApiError> parse_tools(const boost::json::value& v, engine::jinja::Value* out,
                                    std::vector<engine::structured::ToolSchema>* schemas);

// "tool_choice": the mode, and the function's name for a named choice.
std::optional<ApiError> parse_tool_choice(const boost::json::value& v, ToolChoice* choice, std::string* name);

// A JSON value as a template value; strings tainted (they are the caller's).
engine::jinja::Value template_value(const boost::json::value& v);

}  // namespace llmd::openai::detail
