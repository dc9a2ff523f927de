// Typed, range-checked reads of a JSON request object's fields, each failure
// an ApiError (400) whose `param` names the field. A field that is absent or
// null leaves the output unchanged: OpenAI clients send null for "unset".
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/openai/api_request.hpp"

namespace llmd::openai {

// The JSON type of a value in words ("a string", "an array", ...), for messages.
std::string_view json_type_name(const boost::json::value& v);

ApiError invalid_param(std::string_view param, std::string message);
ApiError wrong_type(std::string_view param, std::string_view expected, const boost::json::value& got);

// Parses a request body into *doc: a JSON object, nested at most
// kJsonMaxDepth deep; otherwise a 400 invalid_json saying what is wrong.
std::optional<ApiError> parse_json_object_body(std::string_view body, boost::json::value* doc);

// An integer value (a number with no fraction part), or nullopt when it is not one.
std::optional<int64_t> json_integer(const boost::json::value& v);

class RequestFields {
 public:
  explicit RequestFields(const boost::json::object& obj) : obj_(obj) {}

  // The value of `key`, null when absent or JSON null. Every key looked up
  // (here or by a get_*) is remembered as one the parser acts on.
  const boost::json::value* find(std::string_view key) const;
  // Records a key the parser reads from the object directly.
  void mark_read(std::string_view key) const;
  bool was_read(std::string_view key) const;

  std::optional<ApiError> get_bool(std::string_view key, bool& out) const;
  std::optional<ApiError> get_string(std::string_view key, std::string& out) const;
  std::optional<ApiError> get_int(std::string_view key, int64_t min, int64_t max, int64_t& out) const;
  std::optional<ApiError> get_int(std::string_view key, int64_t min, int64_t max, std::optional<int64_t>& out) const;
  std::optional<ApiError> get_float(std::string_view key, double min, double max, float& out) const;

 private:
  const boost::json::object& obj_;
  mutable std::vector<std::string> read_;
};

}  // namespace llmd::openai
