// The expression half of the Jinja parser: tokens of one tag into an
// expression tree with Jinja2's precedence (or, and, not, comparisons, + -,
// ~, * / // %, **, unary, postfix, filters and tests), and the token
// helpers the statement parser (parser.cpp) shares. Nesting deeper than
// kMaxParseDepth is a syntax error.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/jinja/ast.hpp"
#include "engine/jinja/lexer.hpp"
#include "engine/jinja/parser.hpp"

namespace llmd::engine::jinja {

class ExpressionParser {
 public:
  explicit ExpressionParser(std::string_view template_name) : name_(template_name) {}


  Result<ExprPtr> tuple_or_expr(bool conditional) {
    auto first = conditional ? expression() : or_expr();
    if (!first) return first;
    if (!is_op(",")) return first;
    auto t = node(Expr::tuple);
    t->items.push_back(std::move(*first));
    while (accept_op(",")) {
      if (at_tuple_end()) break;
      auto e = conditional ? expression() : or_expr();
      if (!e) return e;
      t->items.push_back(std::move(*e));
    }
    return adopt(std::move(t));
  }

  bool at_tuple_end() const {
    return cur().kind == Token::end || is_op(")") || is_op("]") || is_op("}") ||
           (cur().kind == Token::name && (cur().text == "if" || cur().text == "in"));
  }

  Result<ExprPtr> expression() {
    if (++depth_ > kMaxParseDepth) return fail(cur().line, "expression nested too deeply");
    auto e = or_expr();
    if (!e) return e;
    while (accept_name("if")) {
      auto c = node(Expr::conditional);
      auto cond = or_expr();
      if (!cond) return cond;
      c->items.push_back(std::move(*e));
      c->items.push_back(std::move(*cond));
      if (accept_name("else")) {
        auto other = expression();
        if (!other) return other;
        c->items.push_back(std::move(*other));
      } else {
        c->items.push_back(nullptr);
      }
      e = adopt(std::move(c));
      if (!e) return e;
    }
    --depth_;
    return e;
  }

  Result<ExprPtr> or_expr() { return logical("or", [this] { return and_expr(); }); }
  Result<ExprPtr> and_expr() { return logical("and", [this] { return not_expr(); }); }

  template <typename F>
  Result<ExprPtr> logical(const char* op, F next) {
    auto l = next();
    if (!l) return l;
    while (accept_name(op)) {
      auto r = next();
      if (!r) return r;
      l = binary_node(Expr::logical, op, std::move(*l), std::move(*r));
      if (!l) return l;
    }
    return l;
  }

  Result<ExprPtr> not_expr() {
    if (cur().kind == Token::name && cur().text == "not") {
      ++tok_;
      if (++depth_ > kMaxParseDepth) return fail(cur().line, "expression nested too deeply");
      auto e = not_expr();
      --depth_;
      if (!e) return e;
      auto u = node(Expr::unary);
      u->name = "not";
      u->items.push_back(std::move(*e));
      return adopt(std::move(u));
    }
    return compare();
  }

  Result<ExprPtr> compare() {
    auto first = math1();
    if (!first) return first;
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(*first));
    while (true) {
      std::string op;
      if (cur().kind == Token::op && (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        op = cur().text;
        ++tok_;
      } else if (accept_name("in")) {
        op = "in";
      } else if (cur().kind == Token::name && cur().text == "not" && peek().kind == Token::name && peek().text == "in") {
        tok_ += 2;
        op = "not in";
      } else {
        break;
      }
      auto r = math1();
      if (!r) return r;
      ops.push_back(std::move(op));
      operands.push_back(std::move(*r));
    }
    if (ops.empty()) return std::move(operands[0]);
    if (ops.size() == 1) return binary_node(Expr::binary, ops[0], std::move(operands[0]), std::move(operands[1]));
    auto c = node(Expr::chain);
    c->items = std::move(operands);
    c->ops = std::move(ops);
    return adopt(std::move(c));
  }

  Result<ExprPtr> math1() { return binary_level({"+", "-"}, [this] { return concat(); }); }
  Result<ExprPtr> concat() { return binary_level({"~"}, [this] { return math2(); }); }
  Result<ExprPtr> math2() { return binary_level({"*", "/", "//", "%"}, [this] { return power(); }); }
  Result<ExprPtr> power() { return binary_level({"**"}, [this] { return unary(true); }); }

  template <typename F>
  Result<ExprPtr> binary_level(std::initializer_list<std::string_view> ops, F next) {
    auto l = next();
    if (!l) return l;
    while (true) {
      bool matched = false;
      for (std::string_view op : ops) {
        if (is_op(op)) {
          ++tok_;
          auto r = next();
          if (!r) return r;
          l = binary_node(Expr::binary, std::string(op), std::move(*l), std::move(*r));
          if (!l) return l;
          matched = true;
          break;
        }
      }
      if (!matched) return l;
    }
  }

  Result<ExprPtr> unary(bool with_filter) {
    if (++depth_ > kMaxParseDepth) return fail(cur().line, "expression nested too deeply");
    Result<ExprPtr> e = ExprPtr();
    if (is_op("-") || is_op("+")) {
      auto u = node(Expr::unary);
      u->name = cur().text;
      ++tok_;
      auto inner = unary(false);
      if (!inner) return inner;
      u->items.push_back(std::move(*inner));
      e = adopt(std::move(u));
      if (!e) return e;
    } else {
      e = primary();
      if (!e) return e;
    }
    e = postfix(std::move(*e));
    if (e && with_filter) e = filters_and_tests(std::move(*e));
    --depth_;
    return e;
  }

  Result<ExprPtr> primary() {
    const Token& t = cur();
    if (t.kind == Token::name) {
      ++tok_;
      if (t.text == "true" || t.text == "True") return literal(Value(true));
      if (t.text == "false" || t.text == "False") return literal(Value(false));
      if (t.text == "none" || t.text == "None") return literal(Value(None{}));
      auto n = node(Expr::variable);
      n->name = t.text;
      return n;
    }
    if (t.kind == Token::string) {
      std::string s;
      while (cur().kind == Token::string) {  // adjacent literals concatenate
        s += cur().text;
        ++tok_;
      }
      return literal(Value(std::move(s)));
    }
    if (t.kind == Token::integer) {
      ++tok_;
      int64_t v = 0;
      auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
      if (r.ec != std::errc()) return fail(t.line, "integer literal out of range");
      return literal(Value(v));
    }
    if (t.kind == Token::floating) {
      ++tok_;
      return literal(Value(std::strtod(t.text.c_str(), nullptr)));
    }
    if (accept_op("(")) {
      if (accept_op(")")) return node(Expr::tuple);
      auto e = tuple_or_expr(true);
      if (!e) return e;
      if (!accept_op(")")) return fail(cur().line, "')' expected");
      return e;
    }
    if (accept_op("[")) {
      auto l = node(Expr::list);
      while (!accept_op("]")) {
        if (!l->items.empty() && !accept_op(",")) return fail(cur().line, "',' or ']' expected");
        if (accept_op("]")) break;
        auto e = expression();
        if (!e) return e;
        l->items.push_back(std::move(*e));
      }
      return adopt(std::move(l));
    }
    if (accept_op("{")) {
      auto d = node(Expr::dict);
      while (!accept_op("}")) {
        if (!d->items.empty() && !accept_op(",")) return fail(cur().line, "',' or '}' expected");
        if (accept_op("}")) break;
        auto k = expression();
        if (!k) return k;
        if (!accept_op(":")) return fail(cur().line, "':' expected in a dict literal");
        auto v = expression();
        if (!v) return v;
        d->items.push_back(std::move(*k));
        d->items.push_back(std::move(*v));
      }
      return adopt(std::move(d));
    }
    if (t.kind == Token::end) return fail(t.line, "unexpected end of tag, an expression expected");
    return fail(t.line, "unexpected '" + t.text + "'");
  }

  Result<ExprPtr> postfix(ExprPtr e) {
    while (true) {
      if (accept_op(".")) {
        if (cur().kind == Token::name) {
          auto a = node(Expr::attribute);
          a->name = cur().text;
          ++tok_;
          a->items.push_back(std::move(e));
          auto r = adopt(std::move(a));
          if (!r) return r;
          e = std::move(*r);
        } else if (cur().kind == Token::integer) {
          auto idx = node(Expr::index);
          idx->items.push_back(std::move(e));
          auto lit = primary();
          if (!lit) return lit;
          idx->items.push_back(std::move(*lit));
          auto r = adopt(std::move(idx));
          if (!r) return r;
          e = std::move(*r);
        } else {
          return fail(cur().line, "attribute name expected after '.'");
        }
      } else if (accept_op("[")) {
        auto r = subscript(std::move(e));
        if (!r) return r;
        e = std::move(*r);
      } else if (is_op("(")) {
        auto c = call(std::move(e));
        if (!c) return c;
        e = std::move(*c);
      } else {
        return e;
      }
    }
  }

  Result<ExprPtr> subscript(ExprPtr obj) {
    ExprPtr parts[3];
    int n = 0;
    bool is_slice = false;
    while (true) {
      if (is_op(":")) {
        is_slice = true;
        ++tok_;
        if (++n > 2) return fail(cur().line, "bad slice");
        continue;
      }
      if (accept_op("]")) break;
      auto e = expression();
      if (!e) return e;
      if (parts[n]) return fail(cur().line, "']' expected");
      parts[n] = std::move(*e);
    }
    auto s = node(is_slice ? Expr::slice : Expr::index);
    s->items.push_back(std::move(obj));
    if (!is_slice) {
      if (!parts[0]) return fail(cur().line, "empty subscript");
      s->items.push_back(std::move(parts[0]));
    } else {
      for (auto& p : parts) s->items.push_back(std::move(p));
    }
    return adopt(std::move(s));
  }

  // Arguments "(a, b, k=v)" into e's items (after the ones it has) and keywords.
  Status call_args(Expr& e) {
    if (!accept_op("(")) return {};
    bool first = true;
    while (!accept_op(")")) {
      if (!first && !accept_op(",")) return fail(cur().line, "',' or ')' expected in the arguments");
      first = false;
      if (accept_op(")")) break;
      if (cur().kind == Token::name && peek().kind == Token::op && peek().text == "=") {
        std::string k = cur().text;
        tok_ += 2;
        auto v = expression();
        if (!v) return v.take_error();
        e.keywords.emplace_back(std::move(k), std::move(*v));
        continue;
      }
      if (!e.keywords.empty()) return fail(cur().line, "positional argument after a keyword argument");
      auto v = expression();
      if (!v) return v.take_error();
      e.items.push_back(std::move(*v));
    }
    return {};
  }

  Result<ExprPtr> call(ExprPtr callee) {
    auto c = node(Expr::call);
    c->items.push_back(std::move(callee));
    LLMD_TRY(call_args(*c));
    return adopt(std::move(c));
  }

  // name(args) | name(args) ... applied to `input` (null in a filter block).
  Result<ExprPtr> filter_chain(ExprPtr input) {
    do {
      if (cur().kind != Token::name) return fail(cur().line, "filter name expected");
      auto f = node(Expr::filter);
      f->name = cur().text;
      ++tok_;
      f->items.push_back(std::move(input));
      LLMD_TRY(call_args(*f));
      auto r = adopt(std::move(f));
      if (!r) return r;
      input = std::move(*r);
    } while (accept_op("|"));
    return input;
  }

  Result<ExprPtr> filters_and_tests(ExprPtr e) {
    while (true) {
      if (accept_op("|")) {
        if (cur().kind != Token::name) return fail(cur().line, "filter name expected");
        auto f = node(Expr::filter);
        f->name = cur().text;
        ++tok_;
        f->items.push_back(std::move(e));
        LLMD_TRY(call_args(*f));
        auto r = adopt(std::move(f));
        if (!r) return r;
        e = std::move(*r);
      } else if (accept_name("is")) {
        auto t = node(Expr::test);
        t->negated = accept_name("not");
        if (cur().kind != Token::name) return fail(cur().line, "test name expected after 'is'");
        t->name = cur().text;
        ++tok_;
        t->items.push_back(std::move(e));
        if (is_op("(")) {
          LLMD_TRY(call_args(*t));
        } else if ((cur().kind == Token::name && cur().text != "else" && cur().text != "or" && cur().text != "and" &&
                    cur().text != "if" && cur().text != "is") ||
                   cur().kind == Token::string || cur().kind == Token::integer || cur().kind == Token::floating ||
                   is_op("[") || is_op("{")) {
          auto arg = primary();  // `x is divisibleby 3`: one argument without parentheses
          if (!arg) return arg;
          auto a = postfix(std::move(*arg));
          if (!a) return a;
          t->items.push_back(std::move(*a));
        }
        auto r = adopt(std::move(t));
        if (!r) return r;
        e = std::move(*r);
      } else if (is_op("(")) {
        auto c = call(std::move(e));
        if (!c) return c;
        e = std::move(*c);
      } else {
        return e;
      }
    }
  }


  ExprPtr node(Expr::Kind k) const {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = cur().line;
    return e;
  }
  ExprPtr literal(Value v) const {
    auto e = node(Expr::literal);
    e->value = std::move(v);
    return e;
  }
  Result<ExprPtr> binary_node(Expr::Kind k, std::string op, ExprPtr l, ExprPtr r) const {
    auto e = node(k);
    e->name = std::move(op);
    e->items.push_back(std::move(l));
    e->items.push_back(std::move(r));
    return adopt(std::move(e));
  }

  // Sets the height of `e` from its children's. A taller tree is refused, so
  // that neither evaluating nor destroying it can exhaust the stack, however
  // long a chain (a + b + ..., x|f|f|...) the source writes.
  Result<ExprPtr> adopt(ExprPtr e) const {
    int h = 0;
    for (const auto& x : e->items) {
      if (x) h = std::max(h, x->height);
    }
    for (const auto& [k, x] : e->keywords) {
      if (x) h = std::max(h, x->height);
    }
    e->height = h + 1;
    if (e->height > kMaxExprHeight) return fail(e->line, "expression nested too deeply");
    return e;
  }

  const Token& cur() const { return (*toks_)[std::min(tok_, toks_->size() - 1)]; }
  const Token& peek() const { return (*toks_)[std::min(tok_ + 1, toks_->size() - 1)]; }
  bool is_op(std::string_view op) const { return cur().kind == Token::op && cur().text == op; }
  bool accept_op(std::string_view op) {
    if (!is_op(op)) return false;
    ++tok_;
    return true;
  }
  bool accept_name(std::string_view n) {
    if (cur().kind != Token::name || cur().text != n) return false;
    ++tok_;
    return true;
  }
  Status expect_end() {
    if (cur().kind != Token::end) return fail(cur().line, "unexpected '" + cur().text + "' (end of tag expected)");
    return {};
  }
  Error fail(int line, const std::string& what) const {
    return Error(ErrorCode::chat_template_syntax,
                 "template '" + std::string(name_) + "' line " + std::to_string(line) + ": " + what);
  }

 protected:
  std::string_view name_;
  const std::vector<Token>* toks_ = nullptr;  // the current tag's tokens, ending with Token::end
  size_t tok_ = 0;
  int depth_ = 0;
};

}  // namespace llmd::engine::jinja
