// Values of the Jinja interpreter: Python's None/bool/int/float/str/list/dict
// plus Jinja's Undefined, namespaces and callables.
//
// Strings carry "taint": the byte ranges that came from the caller's data
// (message contents, tools) rather than from the template. Operations that
// copy or cut strings keep the ranges; operations that compute new text from
// tainted input taint all of it. The renderer reports the tainted ranges of
// its output, so that the tokenizer reads them as plain text and a user cannot
// type a control token.
//
// Lists and dicts are immutable once built (as in the sandbox Hugging Face
// renders with); a namespace is the one mutable object, changed only by
// `{% set ns.attr = ... %}`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.hpp"

namespace llmd::engine::jinja {

using Range = std::pair<size_t, size_t>;  // [begin, end) in bytes

// Sorted, disjoint, non-adjacent ranges.
struct Taint {
  std::vector<Range> ranges;
  bool empty() const { return ranges.empty(); }
  void add(size_t begin, size_t end);               // merges
  void append(const Taint& other, size_t offset);   // other's ranges shifted by offset
  Taint slice(size_t begin, size_t end) const;      // the part inside [begin, end), rebased to begin
};

struct Str {
  std::string text;
  Taint taint;
  bool markup = false;  // Jinja's Markup (from |safe, |escape): `+` escapes the other operand
};



class Value;
struct Dict;
struct Generator;
struct Callable;
struct Context;

using List = std::vector<Value>;

inline constexpr uint32_t kMaxValueDepth = 128;

struct Undefined {
  std::shared_ptr<const std::string> hint;  // what was looked up, for messages ("'x' is undefined")
};
struct None {};

class Value {
 public:
  Value() : v_(Undefined{}) {}
  Value(None) : v_(None{}) {}                                  // NOLINT
  Value(bool b) : v_(b) {}                                     // NOLINT
  Value(int64_t i) : v_(i) {}                                  // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}                // NOLINT
  Value(double d) : v_(d) {}                                   // NOLINT
  Value(std::string s) : v_(std::make_shared<const Str>(Str{std::move(s), {}})) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}              // NOLINT
  Value(Str s) : v_(std::make_shared<const Str>(std::move(s))) {}                   // NOLINT
  Value(List l);                                               // NOLINT
  // A dict's depth is taken now: build it fully first (a namespace, the one
  // dict changed later, counts as depth 1).
  Value(std::shared_ptr<Dict> d);                              // NOLINT
  Value(std::shared_ptr<const Callable> f) : v_(std::move(f)) {}  // NOLINT
  Value(std::shared_ptr<const Generator> g);                  // NOLINT

  static Value undefined(std::string hint) {
    return Value(Undefined{std::make_shared<const std::string>(std::move(hint))});
  }
  // A string taken from the caller's data: tainted as a whole.
  static Value tainted(std::string s);

  bool is_undefined() const { return std::holds_alternative<Undefined>(v_); }
  bool is_none() const { return std::holds_alternative<None>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_number() const { return is_int() || is_float(); }  // bool is not a number here (as in Jinja's test)
  bool is_string() const { return std::holds_alternative<std::shared_ptr<const Str>>(v_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<const List>>(v_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<Dict>>(v_); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<const Callable>>(v_); }
  bool is_generator() const { return std::holds_alternative<std::shared_ptr<const Generator>>(v_); }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : is_bool() ? as_bool() : as_float(); }
  const std::string& text() const { return std::get<std::shared_ptr<const Str>>(v_)->text; }
  const Str& str() const { return *std::get<std::shared_ptr<const Str>>(v_); }
  const List& list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  Dict& dict() const { return *std::get<std::shared_ptr<Dict>>(v_); }
  const std::shared_ptr<Dict>& dict_ptr() const { return std::get<std::shared_ptr<Dict>>(v_); }
  const Callable& callable() const { return *std::get<std::shared_ptr<const Callable>>(v_); }
  const Generator& generator() const { return *std::get<std::shared_ptr<const Generator>>(v_); }
  const std::string& undefined_hint() const;

  // Nesting of lists and dicts (0 for scalars). The evaluator refuses values
  // nested deeper than kMaxValueDepth, so that no recursion over a value (or
  // its destruction) can exhaust the stack.
  uint32_t depth() const { return depth_; }

  // Python's bool().
  bool truthy() const;
  // Python's type name, for messages ("str", "list", "dict", "NoneType", ...).
  std::string type_name() const;

 private:
  explicit Value(Undefined u) : v_(std::move(u)) {}
  std::variant<Undefined, None, bool, int64_t, double, std::shared_ptr<const Str>, std::shared_ptr<const List>,
               std::shared_ptr<Dict>, std::shared_ptr<const Callable>, std::shared_ptr<const Generator>>
      v_;
  uint32_t depth_ = 0;
};

// The lazy result of map/select/reject: iterable once in Jinja, so it has no
// length, no index and no JSON form, and is always true.
struct Generator {
  std::vector<Value> items;
};

// An insertion-ordered mapping from string keys (Python dicts keep insertion
// order; tojson and items() show it).
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;
  bool is_namespace = false;
  bool is_loop = false;  // the `loop` object of a for loop (its methods are entries too)

  const Value* find(std::string_view key) const;
  void set(std::string key, Value v);
  static std::shared_ptr<Dict> make() { return std::make_shared<Dict>(); }
};

// Arguments of a call: positional, then keyword.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` or named `name`, if given.
  const Value* get(size_t index, std::string_view name) const;
};

struct Callable {
  std::string name;
  std::function<Result<Value>(Context& ctx, const Args& args)> fn;
};

std::shared_ptr<const Callable> make_callable(std::string name,
                                              std::function<Result<Value>(Context&, const Args&)> fn);

// Python's str() and repr() (lists and dicts print their items' repr).
// Undefined prints as "". Printing stops a little after kMaxPrintedBytes (a
// value may share structure and print to far more than it holds); renders
// keep their own bounds below that.
inline constexpr size_t kMaxPrintedBytes = 64u << 20;
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
// str() keeping the taint of a string value (others: tainted as a whole when
// any string inside them is).
Str to_str_tainted(const Value& v);
bool any_taint(const Value& v);  // also true for a value too large to look through

// Python's repr() of a float ("1.0", "0.1", "1e+16", "inf").
std::string float_repr(double d);

// Python's == (1 == 1.0, lists and dicts by items, no coercion of str).
// Values too large to walk (over a million nodes) compare unequal.
bool equals(const Value& a, const Value& b);

// Python's < for numbers, strings and lists; an error for other types and
// for values too large to walk.
Result<int> compare(const Value& a, const Value& b);

// Number of code points in a UTF-8 string (ill-formed bytes count one each).
size_t code_point_count(std::string_view s);
// Byte offsets of each code point start, plus the end.
std::vector<size_t> code_point_offsets(std::string_view s);

}  // namespace llmd::engine::jinja
