// Fields of the OpenAI API that llmd does not implement are refused (400,
// code "unsupported_parameter", `param` naming the field) instead of being
// silently ignored, so a client never gets plain text where it asked for
// tool calls or JSON. A field sent as null counts as unset, and a value that
// asks for what llmd does anyway (`response_format: {"type": "text"}`, empty
// `tools`, `tool_choice: "none"`, `store: false`, ...) is accepted.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>

#include "daemon/openai/api_request.hpp"
#include "daemon/openai/request_fields.hpp"

namespace llmd::openai {

// Every top-level field of a chat or completions body that the parser did
// not read (`read` remembers what it read), so a field is refused exactly
// when nothing acts on it.
std::optional<ApiError> refuse_unimplemented_fields(const boost::json::object& body, const RequestFields& read);

// Every field of one message other than role and content (and tool_calls
// for an assistant, tool_call_id and name for a tool message); `param` is
// "messages[i]".
std::optional<ApiError> refuse_unimplemented_message_fields(const boost::json::object& message,
                                                            const std::string& param, const std::string& role);

}  // namespace llmd::openai
