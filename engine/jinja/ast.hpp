// The syntax tree of a parsed template: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/jinja/value.hpp"

namespace llmd::engine::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    literal,    // value
    variable,   // name
    list,       // items
    tuple,      // items (a tuple is a list here)
    dict,       // items: key, value, key, value, ...
    attribute,  // items[0].name
    index,      // items[0][items[1]]
    slice,      // items[0][items[1]:items[2]:items[3]] (null parts absent)
    call,       // items[0](items[1..], keywords)
    filter,     // items[0] | name(items[1..], keywords); items[0] null in a filter block
    test,       // items[0] is [not] name(items[1..])
    unary,      // op items[0]: "not", "-", "+"
    binary,     // items[0] op items[1]: arithmetic, comparisons, "in", "not in", "~"
    logical,    // items[0] and/or items[1] (short-circuit)
    conditional, // items[0] if items[1] else items[2] (items[2] null: undefined)
    chain       // items[0] ops[0] items[1] ops[1] items[2] ...: Python's chained comparison
  } kind = literal;
  int line = 0;
  int height = 1;  // 1 + the tallest child's (bounded by the parser)
  Value value;
  std::string name;  // name, attribute, filter, test, operator
  bool negated = false;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  std::vector<std::string> ops;  // chain
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum Kind {
    data,       // text
    output,     // {{ expr }}
    if_,        // branches (expr, body)...; else_body
    for_,       // targets in expr [if cond]: body; else_body
    set,        // targets (or target.attr) = expr
    set_block,  // {% set target %}body{% endset %}, filtered by `filter` when given
    macro,      // name(params = defaults): body
    call_block, // {% call macro(...) %}body{% endcall %}: expr calls with `caller`
    filter_block,  // {% filter f %}body{% endfilter %}: filter expr with null input
    break_,
    continue_,
  } kind = data;
  int line = 0;
  std::string text;                       // text; macro name; set attribute (ns.attr)
  std::vector<std::string> targets;       // loop/set variables
  ExprPtr expr;                           // output, for iterable, set value, call, filter
  ExprPtr cond;                           // for ... if cond
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and defaults (null: none)
};

}  // namespace llmd::engine::jinja
