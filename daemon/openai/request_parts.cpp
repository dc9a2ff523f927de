#include "daemon/openai/request_parts.hpp"

#include <charconv>
#include <cmath>

#include "daemon/openai/request_fields.hpp"
#include "daemon/openai/unimplemented_fields.hpp"
#include "engine/jinja/json.hpp"

namespace llmd::openai::detail {
namespace {

std::string at(std::string_view base, size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }

// A message's content: a string, or text parts joined without separator.
std::optional<ApiError> parse_content(const boost::json::value& v, const std::string& param, std::string* out) {
  if (v.is_string()) {
    *out = std::string(v.get_string());
    return std::nullopt;
  }
  if (!v.is_array()) return wrong_type(param, "a string or an array of content parts", v);
  const auto& parts = v.get_array();
  for (size_t j = 0; j < parts.size(); ++j) {
    const std::string p = at(param, j);
    if (!parts[j].is_object()) return wrong_type(p, "an object", parts[j]);
    const auto& part = parts[j].get_object();
    const boost::json::value* type = part.if_contains("type");
    if (!type || !type->is_string()) return invalid_param(p + ".type", "Missing or invalid '" + p + ".type'.");
    if (type->get_string() != "text") {
      return invalid_param(p + ".type", "Content parts of type '" + std::string(type->get_string()) +
                                            "' are not supported by this model; only 'text' is.");
    }
    const boost::json::value* text = part.if_contains("text");
    if (!text || !text->is_string()) {
      return text ? wrong_type(p + ".text", "a string", *text)
                  : invalid_param(p + ".text", "Missing required parameter: '" + p + ".text'.");
    }
    out->append(text->get_string());
  }
  return std::nullopt;
}

// An assistant message's "tool_calls": [{"id", "type": "function", "function":
// {"name", "arguments" (JSON text)}}]. The template sees the arguments as an
// object when they are one (what Hugging Face templates expect), else as text.
std::optional<ApiError> parse_assistant_tool_calls(const boost::json::value& v, const std::string& param,
                                                   engine::jinja::Value* out) {
  namespace jinja = engine::jinja;
  if (!v.is_array()) return wrong_type(param, "an array", v);
  jinja::List calls;
  for (size_t j = 0; j < v.get_array().size(); ++j) {
    const boost::json::value& c = v.get_array()[j];
    const std::string p = at(param, j);
    if (!c.is_object()) return wrong_type(p, "an object", c);
    const auto* fn = c.get_object().if_contains("function");
    const auto* id = c.get_object().if_contains("id");
    if (!fn || !fn->is_object()) return invalid_param(p + ".function", "Missing or invalid '" + p + ".function'.");
    const auto* name = fn->get_object().if_contains("name");
    const auto* args = fn->get_object().if_contains("arguments");
    if (!name || !name->is_string()) return invalid_param(p + ".function.name", "Missing or invalid '" + p + ".function.name'.");
    if (args && !args->is_string() && !args->is_null()) return wrong_type(p + ".function.arguments", "a string", *args);
    auto f = jinja::Dict::make();
    f->set("name", jinja::Value::tainted(std::string(name->get_string())));
    jinja::Value arguments = jinja::Value::tainted(args && args->is_string() ? std::string(args->get_string()) : "{}");
    if (auto parsed = jinja::parse_json(arguments.text(), true); parsed && parsed->is_dict()) arguments = *parsed;
    f->set("arguments", arguments);
    auto call = jinja::Dict::make();
    if (id && id->is_string()) call->set("id", jinja::Value::tainted(std::string(id->get_string())));
    call->set("type", jinja::Value::tainted("function"));
    call->set("function", jinja::Value(f));
    calls.push_back(jinja::Value(call));
  }
  *out = jinja::Value(std::move(calls));
  return std::nullopt;
}

std::optional<ApiError> parse_token_ids(const boost::json::array& a, const std::string& param, std::vector<int64_t>* out) {
  if (a.empty()) return invalid_param(param, "'" + param + "' must not be empty.");
  out->reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    std::optional<int64_t> id = json_integer(a[i]);
    if (!id) return wrong_type(at(param, i), "an integer token id", a[i]);
    if (*id < 0) return invalid_param(at(param, i), "Token ids must not be negative (got " + std::to_string(*id) + ").");
    out->push_back(*id);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_messages(const boost::json::value& v, std::vector<engine::ChatMessage>* out,
                                       engine::jinja::Value* template_messages, bool* tool_messages) {
  namespace jinja = engine::jinja;
  if (!v.is_array()) return wrong_type("messages", "an array", v);
  const auto& arr = v.get_array();
  if (arr.empty()) return invalid_param("messages", "'messages' must contain at least one message.");
  out->reserve(arr.size());
  jinja::List listed;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string param = at("messages", i);
    if (!arr[i].is_object()) return wrong_type(param, "an object", arr[i]);
    const auto& m = arr[i].get_object();
    const boost::json::value* role = m.if_contains("role");
    if (!role) return invalid_param(param + ".role", "Missing required parameter: '" + param + ".role'.");
    if (!role->is_string()) return wrong_type(param + ".role", "a string", *role);
    std::string r(role->get_string());
    if (r == "developer") r = "system";  // the newer name of the system role
    if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      return invalid_param(param + ".role", "Messages with role '" + std::string(role->get_string()) +
                                                "' are not supported; use system, developer, user, assistant or tool.");
    }
    if (auto e = refuse_unimplemented_message_fields(m, param, r)) return e;
    engine::ChatMessage msg;
    msg.role = r;
    auto shown = jinja::Dict::make();  // the message as the template sees it
    shown->set("role", jinja::Value::tainted(r));
    const boost::json::value* content = m.if_contains("content");
    if (!content || content->is_null()) {
      // An assistant turn may carry no content (it made tool calls instead).
      if (r != "assistant") return invalid_param(param + ".content", "Missing required parameter: '" + param + ".content'.");
      shown->set("content", jinja::Value(jinja::None{}));
    } else if (auto e = parse_content(*content, param + ".content", &msg.content)) {
      return e;
    } else {
      shown->set("content", jinja::Value::tainted(msg.content));
    }
    if (r == "tool") {
      const boost::json::value* id = m.if_contains("tool_call_id");
      if (!id || !id->is_string()) {
        return id ? wrong_type(param + ".tool_call_id", "a string", *id)
                  : invalid_param(param + ".tool_call_id", "Missing required parameter: '" + param + ".tool_call_id'.");
      }
      shown->set("tool_call_id", jinja::Value::tainted(std::string(id->get_string())));
      if (const auto* name = m.if_contains("name"); name && name->is_string()) {
        shown->set("name", jinja::Value::tainted(std::string(name->get_string())));
      }
      *tool_messages = true;
    }
    if (const auto* calls = m.if_contains("tool_calls"); calls && !calls->is_null()) {
      jinja::Value value;
      if (auto e = parse_assistant_tool_calls(*calls, param + ".tool_calls", &value)) return e;
      if (!value.list().empty()) {
        shown->set("tool_calls", value);
        *tool_messages = true;
      }
    }
    listed.push_back(jinja::Value(shown));
    out->push_back(std::move(msg));
  }
  *template_messages = jinja::Value(std::move(listed));
  return std::nullopt;
}

std::optional<ApiError> parse_prompt_inputs(const boost::json::value& v, const std::string& param, std::string_view plural,
                                            int32_t max_count, std::vector<PromptInput>* out) {
  auto empty = [&] { return invalid_param(param, "'" + param + "' must not be empty."); };
  if (v.is_string()) {
    if (v.get_string().empty()) return empty();
    out->push_back(PromptInput{std::string(v.get_string()), {}, false});
    return std::nullopt;
  }
  if (!v.is_array()) return wrong_type(param, "a string, an array of strings or an array of token ids", v);
  const auto& arr = v.get_array();
  if (arr.empty()) return empty();
  if (arr[0].is_number()) {  // one input of token ids
    PromptInput p;
    p.is_ids = true;
    if (auto e = parse_token_ids(arr, param, &p.ids)) return e;
    out->push_back(std::move(p));
    return std::nullopt;
  }
  if (arr.size() > static_cast<size_t>(max_count)) {
    return invalid_param(param, "At most " + std::to_string(max_count) + " " + std::string(plural) +
                                    " may be sent at once (got " + std::to_string(arr.size()) + ").");
  }
  const bool strings = arr[0].is_string();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string item = at(param, i);
    PromptInput p;
    if (strings) {
      if (!arr[i].is_string()) return wrong_type(item, "a string", arr[i]);
      if (arr[i].get_string().empty()) return invalid_param(item, "'" + item + "' must not be empty.");
      p.text = std::string(arr[i].get_string());
    } else {
      if (!arr[i].is_array()) return wrong_type(item, "an array of token ids", arr[i]);
      p.is_ids = true;
      if (auto e = parse_token_ids(arr[i].get_array(), item, &p.ids)) return e;
    }
    out->push_back(std::move(p));
  }
  return std::nullopt;
}

std::optional<ApiError> parse_stop(const boost::json::value& v, std::vector<std::string>* out) {
  if (v.is_string()) {
    if (!v.get_string().empty()) out->emplace_back(v.get_string());
    return std::nullopt;
  }
  if (!v.is_array()) return wrong_type("stop", "a string or an array of strings", v);
  const auto& arr = v.get_array();
  if (arr.size() > static_cast<size_t>(kMaxStopStrings)) {
    return invalid_param("stop", "At most " + std::to_string(kMaxStopStrings) + " stop sequences are allowed (got " +
                                     std::to_string(arr.size()) + ").");
  }
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) return wrong_type(at("stop", i), "a string", arr[i]);
    if (!arr[i].get_string().empty()) out->emplace_back(arr[i].get_string());
  }
  return std::nullopt;
}

std::optional<ApiError> parse_logit_bias(const boost::json::value& v, std::vector<std::pair<int64_t, float>>* out) {
  if (!v.is_object()) return wrong_type("logit_bias", "an object mapping token ids to biases", v);
  for (const auto& [key, bias] : v.get_object()) {
    int64_t id = -1;
    const char* end = key.data() + key.size();
    auto [ptr, ec] = std::from_chars(key.data(), end, id);
    if (ec != std::errc() || ptr != end || id < 0) {
      return invalid_param("logit_bias", "Invalid key in 'logit_bias': '" + std::string(key) +
                                             "' is not a token id (a non-negative integer).");
    }
    if (!bias.is_number()) return wrong_type("logit_bias", "numbers as values", bias);
    const double b = bias.to_number<double>();
    if (!(b >= -engine::kMaxAbsLogitBias && b <= engine::kMaxAbsLogitBias)) {
      return invalid_param("logit_bias", "Invalid value for 'logit_bias' of token " + std::string(key) +
                                             ": biases must be between -100 and 100.");
    }
    out->emplace_back(id, static_cast<float>(b));
  }
  return std::nullopt;
}

}  // namespace llmd::openai::detail
