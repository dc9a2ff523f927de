// The Jinja parser: lexer segments into a statement tree, with Jinja2's
// operator precedence. Nesting deeper than kMaxParseDepth (brackets,
// operators, blocks) is a syntax error, so evaluating the tree cannot
// exhaust the stack.
#pragma once

#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/jinja/ast.hpp"
#include "engine/jinja/lexer.hpp"

namespace llmd::engine::jinja {

inline constexpr int kMaxParseDepth = 100;

// Errors (chat_template_syntax) name `template_name` and the line.
Result<Body> parse(std::vector<Segment> segments, std::string_view template_name);

}  // namespace llmd::engine::jinja
