// How llmctl shows the model manager's answers: the tables of `models list`,
// `devices` and `model-files`, the fields of `models show`, and sizes. Pure
// functions over the server's JSON; fields that are missing, null or of an
// unexpected type show as "-" rather than failing.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "tools/llmctl/table.hpp"

namespace llmd::llmctl {

// Bytes in binary units with one decimal: "512 B", "1.5 KiB", "640.0 MiB", "7.8 GiB".
std::string human_bytes(uint64_t bytes);
// A non-negative integer (or integral double) field; nullopt otherwise.
std::optional<uint64_t> uint_of(const boost::json::value* v);
// human_bytes of a field, "-" when it is not a size.
std::string bytes_of(const boost::json::value* v);
// A parameter count: "260K", "1.1B", "8.0B"; strings are shown as they are.
std::string parameters_of(const boost::json::value* v);

// The "data" array of a list answer. Errors: bad_answer.
Result<const boost::json::array*> data_of(const boost::json::value& answer);
// The answer as an object. Errors: bad_answer.
Result<const boost::json::object*> object_of(const boost::json::value& answer);

Table models_table(const boost::json::array& models);
Table devices_table(const boost::json::array& devices);
Table model_files_table(const boost::json::array& files);
std::vector<std::pair<std::string, std::string>> model_fields(const boost::json::object& model);

}  // namespace llmd::llmctl
