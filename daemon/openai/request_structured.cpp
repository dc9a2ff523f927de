#include "daemon/openai/request_structured.hpp"

#include <boost/json/serialize.hpp>

#include "daemon/openai/request_fields.hpp"
#include "engine/structured/schema_compiler.hpp"

namespace llmd::openai::detail {
namespace {

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

ApiError unsupported(const std::string& param, const std::string& message) {
  return ApiError{400, message, "unsupported_parameter", param};
}

}  // namespace

std::optional<ApiError> parse_response_format(const boost::json::value& v, engine::structured::GrammarPtr* out) {
  if (!v.is_object()) return wrong_type("response_format", "an object", v);
  const auto& o = v.get_object();
  const auto* type = o.if_contains("type");
  if (!type || !type->is_string()) {
    return invalid_param("response_format.type",
                         "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\".");
  }
  const std::string_view t = type->get_string();
  for (const auto& [k, x] : o) {
    if (k != "type" && !(k == "json_schema" && t == "json_schema") && !x.is_null()) {
      return unsupported("response_format." + std::string(k),
                         "Unsupported parameter: 'response_format." + std::string(k) + "'.");
    }
  }
  if (t == "text") {
    out->reset();
    return std::nullopt;
  }
  if (t == "json_object") {
    *out = engine::structured::json_object_grammar();
    return std::nullopt;
  }
  if (t != "json_schema") {
    return invalid_param("response_format.type",
                         "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\".");
  }
  const auto* js = o.if_contains("json_schema");
  if (!js || js->is_null()) {
    return ApiError{400, "Missing required parameter: 'response_format.json_schema'.", "missing_required_parameter",
                    "response_format.json_schema"};
  }
  if (!js->is_object()) return wrong_type("response_format.json_schema", "an object", *js);
  const auto& j = js->get_object();
  const auto* name = j.if_contains("name");
  if (!name || !name->is_string() || !valid_name(name->get_string())) {
    return invalid_param("response_format.json_schema.name",
                         "'response_format.json_schema.name' must be 1 to 64 letters, digits, underscores or dashes.");
  }
  if (const auto* d = j.if_contains("description"); d && !d->is_null() && !d->is_string()) {
    return wrong_type("response_format.json_schema.description", "a string", *d);
  }
  if (const auto* s = j.if_contains("strict"); s && !s->is_null() && !s->is_bool()) {
    return wrong_type("response_format.json_schema.strict", "a boolean", *s);
  }
  for (const auto& [k, x] : j) {
    if (k != "name" && k != "description" && k != "strict" && k != "schema" && !x.is_null()) {
      return unsupported("response_format.json_schema." + std::string(k),
                         "Unsupported parameter: 'response_format.json_schema." + std::string(k) + "'.");
    }
  }
  const auto* schema = j.if_contains("schema");
  if (!schema || schema->is_null()) {
    return ApiError{400, "Missing required parameter: 'response_format.json_schema.schema'.",
                    "missing_required_parameter", "response_format.json_schema.schema"};
  }
  if (!schema->is_object()) return wrong_type("response_format.json_schema.schema", "an object (a JSON schema)", *schema);
  const std::string param = "response_format.json_schema.schema";
  Result<engine::structured::GrammarPtr> g =
      engine::structured::compile_json_schema(boost::json::serialize(*schema), param);
  if (!g) {
    const Error& e = g.error();
    if (e.code == ErrorCode::unsupported) return unsupported(param, "Unsupported schema: " + e.message);
    return invalid_param(param, "Invalid schema: " + e.message);
  }
  *out = std::move(*g);
  return std::nullopt;
}

}  // namespace llmd::openai::detail
