#include "engine/jinja/template.hpp"

#include <algorithm>

#include "engine/jinja/ast.hpp"
#include "engine/jinja/builtins.hpp"
#include "engine/jinja/evaluator.hpp"
#include "engine/jinja/parser.hpp"

namespace llmd::engine::jinja {

struct Template::Tree {
  Body body;
};

namespace {

// Jinja2 refuses unknown filters and tests when it compiles a template; so
// does this, so that a broken template is found at load time.
Status check_names(const Expr* e, const std::string& name) {
  if (!e) return {};
  if (e->kind == Expr::filter && !has_filter(e->name)) {
    return Error(ErrorCode::chat_template_syntax, "template '" + name + "' line " + std::to_string(e->line) +
                                                      ": no filter named '" + e->name + "'");
  }
  if (e->kind == Expr::test && !has_test(e->name)) {
    return Error(ErrorCode::chat_template_syntax, "template '" + name + "' line " + std::to_string(e->line) +
                                                      ": no test named '" + e->name + "'");
  }
  for (const auto& x : e->items) LLMD_TRY(check_names(x.get(), name));
  for (const auto& [k, x] : e->keywords) LLMD_TRY(check_names(x.get(), name));
  return {};
}

Status check_names(const Body& body, const std::string& name) {
  for (const NodePtr& n : body) {
    LLMD_TRY(check_names(n->expr.get(), name));
    LLMD_TRY(check_names(n->cond.get(), name));
    for (const auto& [c, b] : n->branches) {
      LLMD_TRY(check_names(c.get(), name));
      LLMD_TRY(check_names(b, name));
    }
    for (const auto& [p, d] : n->params) LLMD_TRY(check_names(d.get(), name));
    LLMD_TRY(check_names(n->body, name));
    LLMD_TRY(check_names(n->else_body, name));
  }
  return {};
}

}  // namespace

Result<Template> Template::parse(std::string_view source, std::string name, const LexOptions& options) {
  auto segments = lex(source, name, options);
  if (!segments) return segments.take_error();
  auto body = jinja::parse(std::move(*segments), name);
  if (!body) return body.take_error();
  LLMD_TRY(check_names(*body, name));
  Template t;
  t.name_ = std::move(name);
  auto tree = std::make_shared<Tree>();
  tree->body = std::move(*body);
  t.tree_ = std::move(tree);
  return t;
}

Result<Str> Template::render(const Dict& variables, const Limits& limits,
                             std::function<std::string(const std::string& format)> strftime_now) const {
  auto globals = make_globals();
  for (const auto& [k, v] : variables.entries) globals->set(k, v);
  Limits bounded = limits;
  // Printing a value stops past kMaxPrintedBytes; outputs stay well below it.
  bounded.max_output_bytes = std::min(bounded.max_output_bytes, kMaxPrintedBytes / 2);
  Context ctx(name_, bounded, std::move(globals));
  ctx.strftime_now = std::move(strftime_now);
  Status st = exec(ctx, tree_->body);
  if (!st) {
    Error e = st.take_error();
    return Error(e.code, "template '" + name_ + "' " + e.message);
  }
  return std::move(ctx.outputs.front());
}

}  // namespace llmd::engine::jinja
