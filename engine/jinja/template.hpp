// A parsed Jinja template and its render call: the public face of the
// interpreter. Parsing checks the syntax and that every filter and test the
// template names exists; rendering is bounded by Limits and never touches
// anything outside the variables it is given.
//
// Errors (ErrorCode): chat_template_syntax from parse(); from render(),
// chat_template_error (the template called raise_exception, or a type error)
// and chat_template_limit (a bound was exceeded). Messages start with
// "template 'NAME' line N: ".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "engine/jinja/context.hpp"
#include "engine/jinja/lexer.hpp"
#include "engine/jinja/value.hpp"

namespace llmd::engine::jinja {

class Template {
 public:
  // `name` appears in every error message. The default options are Hugging
  // Face's (trim_blocks and lstrip_blocks on).
  static Result<Template> parse(std::string_view source, std::string name, const LexOptions& options = {});

  // Renders with `variables` (messages, tools, bos_token, ...) on top of the
  // global functions. `strftime_now` formats the current time for the
  // template's strftime_now(); absent, that call is an error.
  Result<Str> render(const Dict& variables, const Limits& limits = {},
                     std::function<std::string(const std::string& format)> strftime_now = {}) const;

  const std::string& name() const { return name_; }

 private:
  struct Tree;
  std::string name_;
  std::shared_ptr<const Tree> tree_;
};

}  // namespace llmd::engine::jinja
