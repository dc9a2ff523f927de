// Grammar: the compiled form of a JSON schema (or of a tool-call wrapper), a
// graph of nodes that JsonMatcher walks byte by byte.
//
// Nodes refer to each other by index, so recursive schemas ($ref to an
// enclosing definition) are cycles in the graph. A Grammar is immutable once
// built and shared (read-only) by every sequence that uses it.
//
// The documents a Grammar accepts are JSON texts in a slightly narrowed form:
// whitespace between tokens is limited to kMaxWhitespace bytes per gap, object
// keys contain no escapes, numbers have at most kMaxIntDigits integer and
// kMaxFracDigits fraction digits, nesting is at most kMaxDepth levels, and
// enum/const values are written compactly (as `serialize_compact` writes
// them). Every JSON value that matches the schema has such a form, so the
// narrowing only steers how the model writes, never what it may say.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmd::engine::structured {

inline constexpr int32_t kMaxWhitespace = 4;    // bytes of whitespace in one gap between tokens
inline constexpr int32_t kMaxIntDigits = 15;    // integer-part digits of a number (exact in a double)
inline constexpr int32_t kMaxFracDigits = 15;   // fraction digits of a number
inline constexpr int32_t kMaxExpDigits = 3;     // exponent digits
inline constexpr int32_t kMaxDepth = 32;        // nested frames (objects, arrays, wrapper sequences)
inline constexpr size_t kMaxProperties = 64;    // declared properties of one object
inline constexpr size_t kMaxLiterals = 64;      // values of one enum
inline constexpr size_t kMaxNodes = 100000;     // nodes of one grammar

enum class NodeKind : uint8_t {
  object,    // { "key": value, ... }
  array,     // [ value, ... ]
  string,    // "..." with optional length bounds or format
  number,    // JSON number, optional range
  integer,   // JSON integer, optional range
  literals,  // one of a few fixed texts (enum, const, true/false/null, wrapper text)
  any_of,    // one of the children
  sequence,  // the children one after another, with nothing between them
};

enum class StringFormat : uint8_t { none, date, time, date_time, uuid, email };

struct Property {
  std::string name;  // raw key (no escapes needed: see the compiler)
  int32_t node = -1;
  bool required = false;
};

struct Node {
  NodeKind kind = NodeKind::literals;

  // object
  std::vector<Property> properties;  // at most kMaxProperties
  int32_t additional = -1;           // schema of undeclared keys; -1: none allowed
  uint64_t required_mask = 0;        // bit i: properties[i] is required

  // array
  int32_t items = -1;                // schema of every item
  int32_t min_items = 0;
  int32_t max_items = -1;            // -1: no bound

  // string
  int32_t min_length = 0;            // in code points
  int32_t max_length = -1;           // -1: no bound
  StringFormat format = StringFormat::none;

  // number / integer: bounds (exclusive when the flag is set)
  std::optional<double> minimum, maximum;
  bool exclusive_minimum = false, exclusive_maximum = false;

  // literals: the exact texts (at most kMaxLiterals)
  std::vector<std::string> texts;

  // any_of / sequence
  std::vector<int32_t> children;
};

struct Grammar {
  std::vector<Node> nodes;
  int32_t root = -1;
  bool allow_leading_whitespace = true;  // JSON documents may start with whitespace; wrappers may not
};

using GrammarPtr = std::shared_ptr<const Grammar>;

// Building blocks shared by the schema compiler and the tool-call wrappers.
int32_t add_node(Grammar* g, Node n);
int32_t add_literal(Grammar* g, std::string text);
int32_t add_sequence(Grammar* g, std::vector<int32_t> children);
int32_t add_any_of(Grammar* g, std::vector<int32_t> children);
// Any JSON value (objects with any keys, arrays of anything, ...).
int32_t add_any_value(Grammar* g);
// Any JSON object (response_format {"type": "json_object"}).
int32_t add_any_object(Grammar* g);

}  // namespace llmd::engine::structured
