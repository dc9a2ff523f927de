#include "daemon/openai/request_tools.hpp"

#include <boost/json/serialize.hpp>

#include "daemon/openai/request_fields.hpp"

namespace llmd::openai::detail {
namespace {

std::string at(std::string_view base, size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

engine::jinja::Value template_value(const boost::json::value& v) {
  namespace jinja = engine::jinja;
  switch (v.kind()) {
    case boost::json::kind::null: return jinja::Value(jinja::None{});
    case boost::json::kind::bool_: return jinja::Value(v.get_bool());
    case boost::json::kind::int64: return jinja::Value(v.get_int64());
    case boost::json::kind::uint64: return jinja::Value(static_cast<double>(v.get_uint64()));
    case boost::json::kind::double_: return jinja::Value(v.get_double());
    case boost::json::kind::string: return jinja::Value::tainted(std::string(v.get_string()));
    case boost::json::kind::array: {
      jinja::List l;
      for (const auto& x : v.get_array()) l.push_back(template_value(x));
      return jinja::Value(std::move(l));
    }
    case boost::json::kind::object: {
      auto d = jinja::Dict::make();
      for (const auto& [k, x] : v.get_object()) d->set(std::string(k), template_value(x));
      return jinja::Value(d);
    }
  }
  return jinja::Value();
}

std::optional<ApiError> parse_tools(const boost::json::value& v, engine::jinja::Value* out,
                                    std::vector<engine::structured::ToolSchema>* schemas) {
  if (!v.is_array()) return wrong_type("tools", "an array", v);
  const auto& arr = v.get_array();
  if (arr.size() > kMaxTools) {
    return invalid_param("tools", "At most " + std::to_string(kMaxTools) + " tools may be given (got " +
                                      std::to_string(arr.size()) + ").");
  }
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string p = at("tools", i);
    if (!arr[i].is_object()) return wrong_type(p, "an object", arr[i]);
    const auto& t = arr[i].get_object();
    const auto* type = t.if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "function") {
      return invalid_param(p + ".type", "'" + p + ".type' must be \"function\" (the only tool type llmd implements).");
    }
    const auto* fn = t.if_contains("function");
    if (!fn || !fn->is_object()) {
      return fn ? wrong_type(p + ".function", "an object", *fn)
                : invalid_param(p + ".function", "Missing required parameter: '" + p + ".function'.");
    }
    const auto& f = fn->get_object();
    const auto* name = f.if_contains("name");
    if (!name || !name->is_string() || !valid_name(name->get_string())) {
      return invalid_param(p + ".function.name",
                           "'" + p + ".function.name' must be 1 to 64 letters, digits, underscores or dashes.");
    }
    if (const auto* d = f.if_contains("description"); d && !d->is_null() && !d->is_string()) {
      return wrong_type(p + ".function.description", "a string", *d);
    }
    const auto* params = f.if_contains("parameters");
    if (params && !params->is_null() && !params->is_object()) {
      return wrong_type(p + ".function.parameters", "an object (a JSON schema)", *params);
    }
    schemas->push_back(engine::structured::ToolSchema{
        std::string(name->get_string()), params && !params->is_null() ? boost::json::serialize(*params) : std::string()});
    for (const auto& [k, x] : f) {
      if (k != "name" && k != "description" && k != "parameters" && k != "strict" && !x.is_null()) {
        return ApiError{400, "Unsupported parameter: '" + p + ".function." + std::string(k) + "'.",
                        "unsupported_parameter", p + ".function." + std::string(k)};
      }
    }
  }
  *out = template_value(v);
  return std::nullopt;
}

std::optional<ApiError> parse_tool_choice(const boost::json::value& v, ToolChoice* choice, std::string* name) {
  if (v.is_string()) {
    const std::string_view s = v.get_string();
    if (s == "auto" || s == "none" || s == "required") {
      *choice = s == "auto" ? ToolChoice::automatic : s == "none" ? ToolChoice::none : ToolChoice::required;
      return std::nullopt;
    }
  }
  const std::string_view msg =
      "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}.";
  if (!v.is_object()) return invalid_param("tool_choice", std::string(msg));
  const auto& o = v.get_object();
  const auto* type = o.if_contains("type");
  const auto* fn = o.if_contains("function");
  if (!type || !type->is_string() || type->get_string() != "function" || !fn || !fn->is_object()) {
    return invalid_param("tool_choice", std::string(msg));
  }
  const auto* n = fn->get_object().if_contains("name");
  if (!n || !n->is_string() || !valid_name(n->get_string())) {
    return invalid_param("tool_choice.function.name", "'tool_choice.function.name' must name one of the tools.");
  }
  for (const auto& [k, x] : o) {
    if (k != "type" && k != "function" && !x.is_null()) {
      return ApiError{400, "Unsupported parameter: 'tool_choice." + std::string(k) + "'.", "unsupported_parameter",
                      "tool_choice." + std::string(k)};
    }
  }
  *choice = ToolChoice::named;
  *name = std::string(n->get_string());
  return std::nullopt;
}

}  // namespace llmd::openai::detail
