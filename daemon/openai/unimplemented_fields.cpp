#include "daemon/openai/unimplemented_fields.hpp"

#include <string_view>

namespace llmd::openai {
namespace {

bool is_string(const boost::json::value& v, std::string_view s) { return v.is_string() && v.get_string() == s; }

// A value that asks for nothing beyond what llmd does without the field.
bool asks_for_nothing(std::string_view key, const boost::json::value& v) {
  if (key == "response_format") {
    const auto* o = v.if_object();
    return o && o->size() == 1 && o->contains("type") && is_string(o->at("type"), "text");
  }
  if (key == "functions") return v.is_array() && v.get_array().empty();
  if (key == "function_call") return is_string(v, "none") || is_string(v, "auto");
  if (key == "store") return v.is_bool() && !v.get_bool();
  if (key == "service_tier") return is_string(v, "auto") || is_string(v, "default");
  if (key == "modalities") {
    const auto* a = v.if_array();
    return a && a->size() == 1 && is_string((*a)[0], "text");
  }
  if (key == "best_of") return v.is_int64() && v.get_int64() == 1;
  if (key == "suffix") return is_string(v, "");
  return false;
}

std::string why(std::string_view key) {
  if (key == "tools" || key == "tool_choice" || key == "parallel_tool_calls") {
    return "tool calling is for chat completions";
  }
  if (key == "functions" || key == "function_call") return "use 'tools' and 'tool_choice' instead";
  if (key == "response_format") return "structured output is for chat completions";
  if (key == "store" || key == "metadata") return "llmd does not store completions";
  return "llmd does not implement this field";
}

ApiError refusal(const std::string& param, std::string_view key) {
  return ApiError{400, "Unsupported parameter: '" + param + "': " + why(key) + ". Remove it or send null.",
                  "unsupported_parameter", param};
}

}  // namespace

std::optional<ApiError> refuse_unimplemented_fields(const boost::json::object& body, const RequestFields& read) {
  for (const auto& [k, v] : body) {
    const std::string_view key = k;
    if (v.is_null() || read.was_read(key) || asks_for_nothing(key, v)) continue;
    return refusal(std::string(key), key);
  }
  if (const auto* so = body.if_contains("stream_options"); so && so->is_object()) {
    for (const auto& [k, v] : so->get_object()) {
      if (!v.is_null() && k != "include_usage") return refusal("stream_options." + std::string(k), k);
    }
  }
  return std::nullopt;
}

std::optional<ApiError> refuse_unimplemented_message_fields(const boost::json::object& message,
                                                            const std::string& param, const std::string& role) {
  for (const auto& [k, v] : message) {
    if (k == "role" || k == "content" || v.is_null()) continue;
    if (k == "tool_calls" && (role == "assistant" || (v.is_array() && v.get_array().empty()))) continue;
    if ((k == "tool_call_id" || k == "name") && role == "tool") continue;
    return refusal(param + "." + std::string(k), k);
  }
  return std::nullopt;
}

}  // namespace llmd::openai
