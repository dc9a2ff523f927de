// JSON for the Jinja interpreter: `tojson` output exactly as Python's
// json.dumps(value, ensure_ascii=False, ...) writes it (what Hugging Face's
// tojson filter calls), and a parser that turns JSON text (messages, tools)
// into values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "engine/jinja/value.hpp"

namespace llmd::engine::jinja {

struct JsonFormat {
  std::optional<std::string> indent;  // None: one line; else the text repeated per level
  std::string item_separator = ", ";  // json.dumps' defaults ("," when indenting)
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;  // non-ASCII as \uXXXX escapes
};

// The text of `v`; the result is tainted as a whole when any string in `v`
// is. Undefined, namespaces and functions are errors (as in Python).
Result<Str> to_json(const Value& v, const JsonFormat& format = {});

// Parses JSON text; strings become tainted values when `taint` is set.
// Nesting deeper than `max_depth` is an error.
Result<Value> parse_json(std::string_view text, bool taint, int max_depth = 64);

}  // namespace llmd::engine::jinja
