#include "engine/jinja/parser.hpp"

#include <charconv>
#include <initializer_list>

namespace llmd::engine::jinja {
namespace {

class Parser {
 public:
  Parser(std::vector<Segment> segs, std::string_view name) : segs_(std::move(segs)), name_(name) {}

  Result<Body> run() {
    Body body;
    std::string stop;
    LLMD_TRY(parse_body(body, {}, &stop));
    return body;
  }

 private:
  // ---- statements ----

  // Parses nodes until a statement whose first name is in `stops` (left as
  // the current segment, its name in *stop) or the end (error if stops given).
  Status parse_body(Body& body, std::initializer_list<std::string_view> stops, std::string* stop) {
    if (++depth_ > kMaxParseDepth) return fail(line(), "blocks nested too deeply");
    while (seg_ < segs_.size()) {
      Segment& s = segs_[seg_];
      if (s.kind == Segment::data) {
        auto n = std::make_unique<Node>();
        n->kind = Node::data;
        n->text = std::move(s.text);
        body.push_back(std::move(n));
        ++seg_;
        continue;
      }
      toks_ = &s.tokens;
      tok_ = 0;
      if (s.kind == Segment::expression) {
        auto n = std::make_unique<Node>();
        n->kind = Node::output;
        n->line = s.line;
        auto e = expression();
        if (!e) return e.take_error();
        n->expr = std::move(*e);
        LLMD_TRY(expect_end());
        body.push_back(std::move(n));
        ++seg_;
        continue;
      }
      if (cur().kind != Token::name) return fail(cur().line, "a statement name expected after '{%'");
      const std::string kw = cur().text;
      for (std::string_view st : stops) {
        if (kw == st) {
          *stop = kw;
          --depth_;
          return {};
        }
      }
      ++tok_;
      auto n = statement(kw, s.line);
      if (!n) return n.take_error();
      if (*n) body.push_back(std::move(*n));
    }
    if (stops.size() > 0) {
      std::string want;
      for (std::string_view st : stops) want += (want.empty() ? "'" : " or '") + std::string(st) + "'";
      return fail(last_line(), "unexpected end of template, expected " + want);
    }
    --depth_;
    return {};
  }

  // Moves to the next segment after checking the current tag ended.
  Status next_segment() {
    LLMD_TRY(expect_end());
    ++seg_;
    return {};
  }

  // A block's body up to one of `stops`; the stop tag's segment is current
  // (its name consumed) afterwards.
  Result<std::string> block(Body& body, std::initializer_list<std::string_view> stops) {
    LLMD_TRY(next_segment());
    std::string stop;
    LLMD_TRY(parse_body(body, stops, &stop));
    toks_ = &segs_[seg_].tokens;
    tok_ = 1;
    return stop;
  }

  Result<NodePtr> statement(const std::string& kw, int line) {
    auto n = std::make_unique<Node>();
    n->line = line;
    if (kw == "if") {
      n->kind = Node::if_;
      auto c = expression();
      if (!c) return c.take_error();
      while (true) {
        Body b;
        auto stop = block(b, {"elif", "else", "endif"});
        if (!stop) return stop.take_error();
        n->branches.emplace_back(std::move(*c), std::move(b));
        if (*stop == "elif") {
          c = expression();
          if (!c) return c.take_error();
          continue;
        }
        if (*stop == "else") {
          auto end = block(n->else_body, {"endif"});
          if (!end) return end.take_error();
        }
        break;
      }
    } else if (kw == "for") {
      n->kind = Node::for_;
      LLMD_TRY(targets(n->targets));
      if (!accept_name("in")) return fail(cur().line, "'in' expected in a for loop");
      auto it = tuple_or_expr(/*conditional=*/false);
      if (!it) return it.take_error();
      n->expr = std::move(*it);
      if (accept_name("if")) {
        auto c = expression();
        if (!c) return c.take_error();
        n->cond = std::move(*c);
      }
      if (cur().kind == Token::name && cur().text == "recursive") return fail(cur().line, "recursive loops are not supported");
      ++loops_;
      auto stop = block(n->body, {"else", "endfor"});
      --loops_;
      if (!stop) return stop.take_error();
      if (*stop == "else") {
        auto end = block(n->else_body, {"endfor"});
        if (!end) return end.take_error();
      }
    } else if (kw == "set") {
      LLMD_TRY(targets(n->targets));
      if (n->targets.size() == 1 && accept_op(".")) {
        if (cur().kind != Token::name) return fail(cur().line, "attribute name expected");
        n->text = cur().text;
        ++tok_;
      }
      if (accept_op("=")) {
        n->kind = Node::set;
        auto v = tuple_or_expr(/*conditional=*/true);
        if (!v) return v.take_error();
        n->expr = std::move(*v);
      } else {
        if (n->targets.size() != 1 || !n->text.empty()) return fail(cur().line, "'=' expected");
        n->kind = Node::set_block;
        if (accept_op("|")) {
          auto f = filter_chain(nullptr);
          if (!f) return f.take_error();
          n->expr = std::move(*f);
        }
        auto end = block(n->body, {"endset"});
        if (!end) return end.take_error();
      }
    } else if (kw == "macro") {
      n->kind = Node::macro;
      if (cur().kind != Token::name) return fail(cur().line, "macro name expected");
      n->text = cur().text;
      ++tok_;
      if (!accept_op("(")) return fail(cur().line, "'(' expected after the macro name");
      while (!accept_op(")")) {
        if (!n->params.empty() && !accept_op(",")) return fail(cur().line, "',' or ')' expected");
        if (cur().kind != Token::name) return fail(cur().line, "parameter name expected");
        std::string p = cur().text;
        ++tok_;
        ExprPtr def;
        if (accept_op("=")) {
          auto d = expression();
          if (!d) return d.take_error();
          def = std::move(*d);
        }
        n->params.emplace_back(std::move(p), std::move(def));
      }
      auto end = block(n->body, {"endmacro"});
      if (!end) return end.take_error();
    } else if (kw == "filter") {
      n->kind = Node::filter_block;
      auto f = filter_chain(nullptr);
      if (!f) return f.take_error();
      n->expr = std::move(*f);
      auto end = block(n->body, {"endfilter"});
      if (!end) return end.take_error();
    } else if (kw == "generation" || kw == "raw") {
      // {% generation %} (Hugging Face's assistant-mask extension) renders its
      // body unchanged; {% raw %} holds the lexer's verbatim text.
      n->kind = Node::if_;
      auto always = std::make_unique<Expr>();
      always->value = Value(true);
      Body b;
      auto end = block(b, {kw == "raw" ? "endraw" : "endgeneration"});
      if (!end) return end.take_error();
      n->branches.emplace_back(std::move(always), std::move(b));
    } else if (kw == "break" || kw == "continue") {
      if (loops_ == 0) return fail(line, "'" + kw + "' outside a loop");
      n->kind = kw == "break" ? Node::break_ : Node::continue_;
    } else {
      return fail(line, "unknown or unsupported tag '" + kw + "'");
    }
    LLMD_TRY(next_segment());
    return n;
  }

  Status targets(std::vector<std::string>& out) {
    const bool paren = accept_op("(");
    do {
      if (cur().kind != Token::name) return fail(cur().line, "variable name expected");
      out.push_back(cur().text);
      ++tok_;
    } while (accept_op(","));
    if (paren && !accept_op(")")) return fail(cur().line, "')' expected");
    if (out.size() == 1 && out[0] == "loop") return fail(cur().line, "cannot assign to 'loop'");
    return {};
  }

  // ---- expressions ----

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
    return t;
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
      e = std::move(c);
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
      return u;
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
    return c;
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
      e = std::move(u);
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
      return l;
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
      return d;
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
          e = std::move(a);
        } else if (cur().kind == Token::integer) {
          auto idx = node(Expr::index);
          idx->items.push_back(std::move(e));
          auto lit = primary();
          if (!lit) return lit;
          idx->items.push_back(std::move(*lit));
          e = std::move(idx);
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
    return s;
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
    return c;
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
      input = std::move(f);
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
        e = std::move(f);
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
        e = std::move(t);
      } else if (is_op("(")) {
        auto c = call(std::move(e));
        if (!c) return c;
        e = std::move(*c);
      } else {
        return e;
      }
    }
  }

  // ---- helpers ----

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
  ExprPtr binary_node(Expr::Kind k, std::string op, ExprPtr l, ExprPtr r) const {
    auto e = node(k);
    e->name = std::move(op);
    e->items.push_back(std::move(l));
    e->items.push_back(std::move(r));
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
  int line() const { return seg_ < segs_.size() ? segs_[seg_].line : last_line(); }
  int last_line() const {
    for (size_t i = segs_.size(); i-- > 0;) {
      if (segs_[i].kind != Segment::data) return segs_[i].tokens.empty() ? segs_[i].line : segs_[i].tokens.back().line;
    }
    return 1;
  }
  Error fail(int line, const std::string& what) const {
    return Error(ErrorCode::chat_template_syntax,
                 "template '" + std::string(name_) + "' line " + std::to_string(line) + ": " + what);
  }

  std::vector<Segment> segs_;
  std::string_view name_;
  size_t seg_ = 0;
  const std::vector<Token>* toks_ = nullptr;
  size_t tok_ = 0;
  int depth_ = 0;
  int loops_ = 0;
};

}  // namespace

Result<Body> parse(std::vector<Segment> segments, std::string_view template_name) {
  return Parser(std::move(segments), template_name).run();
}

}  // namespace llmd::engine::jinja
