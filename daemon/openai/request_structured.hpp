// "response_format" of a chat request: {"type": "text"} (no constraint),
// {"type": "json_object"} (any JSON object) or {"type": "json_schema",
// "json_schema": {"name", "schema", "strict"?, "description"?}}, compiled into
// the grammar that constrains decoding (engine/structured/schema_compiler.hpp).
// A schema feature llmd does not implement is refused (400
// unsupported_parameter) with its place in the schema in the message.
#pragma once

#include <boost/json/value.hpp>

#include <optional>

#include "daemon/openai/api_request.hpp"
#include "engine/structured/grammar.hpp"

namespace llmd::openai::detail {

// Sets *out (null for "text").
std::optional<ApiError> parse_response_format(const boost::json::value& v, engine::structured::GrammarPtr* out);

}  // namespace llmd::openai::detail
