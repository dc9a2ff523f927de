// The Jinja lexer: template source into text pieces and tag token lists.
//
// Whitespace handling is Jinja2's: newlines normalised to "\n", one trailing
// newline of the source dropped, "-" on a tag side strips all whitespace
// next to it, trim_blocks drops the first newline after a block or comment
// tag, lstrip_blocks drops the spaces and tabs between the start of a line
// and a block or comment tag ("+" after the opening delimiter keeps them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace llmd::engine::jinja {

struct Token {
  enum Kind { name, string, integer, floating, op, end } kind = end;
  std::string text;  // name, operator, or the decoded string literal / number text
  int line = 0;
};

struct Segment {
  enum Kind { data, expression, statement } kind = data;
  std::string text;           // kind == data
  std::vector<Token> tokens;  // tags: their tokens, ending with Token::end
  int line = 0;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Errors name `template_name` and the line.
Result<std::vector<Segment>> lex(std::string_view source, std::string_view template_name, const LexOptions& options);

}  // namespace llmd::engine::jinja
