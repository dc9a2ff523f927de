#include "engine/jinja/parser.hpp"

#include <initializer_list>

#include "engine/jinja/expression_parser.hpp"

namespace llmd::engine::jinja {
namespace {

class Parser : public ExpressionParser {
 public:
  Parser(std::vector<Segment> segs, std::string_view name) : ExpressionParser(name), segs_(std::move(segs)) {}

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

  int line() const { return seg_ < segs_.size() ? segs_[seg_].line : last_line(); }
  int last_line() const {
    for (size_t i = segs_.size(); i-- > 0;) {
      if (segs_[i].kind != Segment::data) return segs_[i].tokens.empty() ? segs_[i].line : segs_[i].tokens.back().line;
    }
    return 1;
  }

  std::vector<Segment> segs_;
  size_t seg_ = 0;
  int loops_ = 0;
};

}  // namespace

Result<Body> parse(std::vector<Segment> segments, std::string_view template_name) {
  return Parser(std::move(segments), template_name).run();
}

}  // namespace llmd::engine::jinja
