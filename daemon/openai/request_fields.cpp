#include "daemon/openai/request_fields.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include <cmath>
#include <cstdio>

namespace llmd::openai {

std::string_view json_type_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "an integer";
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "a value";
}

ApiError invalid_param(std::string_view param, std::string message) {
  return ApiError{400, std::move(message), "invalid_value", std::string(param)};
}

ApiError wrong_type(std::string_view param, std::string_view expected, const boost::json::value& got) {
  return ApiError{400,
                  "Invalid type for '" + std::string(param) + "': expected " + std::string(expected) + ", but got " +
                      std::string(json_type_name(got)) + ".",
                  "invalid_type", std::string(param)};
}

std::optional<ApiError> parse_json_object_body(std::string_view body, boost::json::value* doc) {
  boost::json::parse_options opts;
  opts.max_depth = kJsonMaxDepth;
  std::error_code ec;
  *doc = boost::json::parse(body, ec, {}, opts);
  if (ec) {
    return ApiError{400,
                    "We could not parse the JSON body of your request (" + ec.message() +
                        "). The body must be a JSON object in UTF-8.",
                    "invalid_json", ""};
  }
  if (!doc->is_object()) {
    return ApiError{400, "The request body must be a JSON object, not " + std::string(json_type_name(*doc)) + ".",
                    "invalid_json", ""};
  }
  return std::nullopt;
}

std::optional<int64_t> json_integer(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    // Beyond int64: report as the largest, which every range check refuses.
    return v.get_uint64() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d) || std::trunc(d) != d) return std::nullopt;
    if (d >= 9.2e18) return INT64_MAX;
    if (d <= -9.2e18) return INT64_MIN;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

void RequestFields::mark_read(std::string_view key) const {
  if (!was_read(key)) read_.emplace_back(key);
}

bool RequestFields::was_read(std::string_view key) const {
  for (const std::string& k : read_) {
    if (k == key) return true;
  }
  return false;
}

const boost::json::value* RequestFields::find(std::string_view key) const {
  mark_read(key);
  const boost::json::value* v = obj_.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

std::optional<ApiError> RequestFields::get_bool(std::string_view key, bool& out) const {
  const boost::json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_bool()) return wrong_type(key, "a boolean", *v);
  out = v->get_bool();
  return std::nullopt;
}

std::optional<ApiError> RequestFields::get_string(std::string_view key, std::string& out) const {
  const boost::json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) return wrong_type(key, "a string", *v);
  out = std::string(v->get_string());
  return std::nullopt;
}

std::optional<ApiError> RequestFields::get_int(std::string_view key, int64_t min, int64_t max, int64_t& out) const {
  std::optional<int64_t> value;
  if (auto e = get_int(key, min, max, value)) return e;
  if (value) out = *value;
  return std::nullopt;
}

std::optional<ApiError> RequestFields::get_int(std::string_view key, int64_t min, int64_t max,
                                               std::optional<int64_t>& out) const {
  const boost::json::value* v = find(key);
  if (!v) return std::nullopt;
  std::optional<int64_t> i = json_integer(*v);
  if (!i) return wrong_type(key, "an integer", *v);
  if (*i < min) {
    return invalid_param(key, "Invalid '" + std::string(key) + "': integer below minimum value. Expected a value >= " +
                                  std::to_string(min) + ", but got " + std::to_string(*i) + " instead.");
  }
  if (*i > max) {
    return invalid_param(key, "Invalid '" + std::string(key) + "': integer above maximum value. Expected a value <= " +
                                  std::to_string(max) + ", but got " + std::to_string(*i) + " instead.");
  }
  out = *i;
  return std::nullopt;
}

std::optional<ApiError> RequestFields::get_float(std::string_view key, double min, double max, float& out) const {
  const boost::json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) return wrong_type(key, "a number", *v);
  const double d = v->to_number<double>();
  if (!(d >= min && d <= max)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "Invalid '%.*s': expected a number between %g and %g, but got %g instead.",
                  static_cast<int>(key.size()), key.data(), min, max, d);
    return invalid_param(key, buf);
  }
  out = static_cast<float>(d);
  return std::nullopt;
}

}  // namespace llmd::openai
