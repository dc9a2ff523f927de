// The Jinja parser: lexer segments into a statement tree, with Jinja2's
// operator precedence. Nesting deeper than kMaxParseDepth (brackets,
// operators, blocks) and expression trees taller than kMaxExprHeight (long
// chains such as a + b + ... or x|f|f|...) are syntax errors, so neither
// evaluating nor destroying the tree can exhaust the stack.
#pragma once

#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/jinja/ast.hpp"
#include "engine/jinja/lexer.hpp"

namespace llmd::engine::jinja {

inline constexpr int kMaxParseDepth = 100;
// The tallest expression tree a template may have (chains included).
inline constexpr int kMaxExprHeight = 200;

// Errors (chat_template_syntax) name `template_name` and the line.
Result<Body> parse(std::vector<Segment> segments, std::string_view template_name);

}  // namespace llmd::engine::jinja
