// The built-in vocabulary of templates: filters (`x | name(args)`), tests
// (`x is name(args)`), attributes and methods of values (`s.strip()`,
// `d.items()`), operators, and the global functions (range, namespace,
// raise_exception, strftime_now, dict).
#pragma once

#include <memory>
#include <string>

#include "engine/jinja/context.hpp"

namespace llmd::engine::jinja {

// filters.cpp
Result<Value> apply_filter(Context& ctx, const std::string& name, const Value& input, const Args& args);
bool has_filter(const std::string& name);

// value_tests.cpp
Result<bool> apply_test(Context& ctx, const std::string& name, const Value& input, const Args& args);
bool has_test(const std::string& name);

// attributes.cpp: obj.name (methods come back bound) and obj[key].
Result<Value> get_attribute(Context& ctx, const Value& obj, const std::string& name);
Result<Value> get_item(Context& ctx, const Value& obj, const Value& key);
// obj[start:stop:step] on lists and strings (code points).
Result<Value> get_slice(Context& ctx, const Value& obj, const Value& start, const Value& stop, const Value& step);

// operators.cpp
Result<Value> binary_operator(Context& ctx, const std::string& op, const Value& a, const Value& b);
Result<bool> contains(const Value& container, const Value& item);
// The items a for loop or a filter iterates over (dict: keys; str: characters).
Result<List> iterate(const Value& v);
// `a ~ b` and `a + b` for strings: the texts and taints joined.
Str concat(const Str& a, const Str& b);
void append(Str& out, const Str& s);
// Markup's escape(): & < > " ' as HTML entities; markup is returned as it is.
Str html_escape(const Str& s);
// `attribute` arguments of filters: "a.b.0" looked up step by step.
Result<Value> attribute_path(Context& ctx, const Value& v, const std::string& path);

// globals.cpp: the functions every template can call.
std::shared_ptr<Dict> make_globals();

}  // namespace llmd::engine::jinja
