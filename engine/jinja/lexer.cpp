#include "engine/jinja/lexer.hpp"

#include "engine/jinja/py_string.hpp"
#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::jinja {
namespace {

// Python's text.rstrip() / lstrip(): whitespace by str.isspace().
size_t rstrip_end(std::string_view s) {
  return py_strip_span(s, std::nullopt, false, true).end;
}

// Bytes of whitespace at the start of `s` (reads no further).
size_t leading_space(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = 0;
    const size_t n = utf8::decode(s, i, &cp);
    if (n == 0 || !py_isspace(cp)) break;
    i += n;
  }
  return i;
}

bool all_space(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8::decode(s, i, &cp);
    if (n == 0 || !py_isspace(cp)) return false;
    i += n;
  }
  return true;
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string source, std::string_view name, const LexOptions& o) : src_(std::move(source)), name_(name), opt_(o) {}

  Result<std::vector<Segment>> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      if (tag == src_.size()) {
        emit_text(std::move(text));
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        text.resize(rstrip_end(text));
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && all_space(std::string_view(text).substr(l_pos))) text.resize(l_pos);
      }
      emit_text(std::move(text));
      pos_ = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      const int line = line_at(tag);
      bool strip_after = false;
      if (kind == '#') {
        const size_t end = src_.find("#}", pos_);
        if (end == std::string::npos) return fail(line, "unterminated comment");
        strip_after = end > pos_ && src_[end - 1] == '-';
        pos_ = end + 2;
      } else {
        Segment seg;
        seg.kind = kind == '{' ? Segment::expression : Segment::statement;
        seg.line = line;
        auto st = tokens(kind == '{' ? '}' : '%', seg.tokens, &strip_after);
        if (!st) return st.take_error();
        if (seg.kind == Segment::statement && seg.tokens.size() >= 2 && seg.tokens[0].kind == Token::name &&
            seg.tokens[0].text == "raw") {
          auto raw = raw_block(line);
          if (!raw) return raw.take_error();
          out_.push_back(std::move(seg));
          emit_text(std::move(*raw));
          Segment end;
          end.kind = Segment::statement;
          end.line = line;
          end.tokens = {Token{Token::name, "endraw", line}, Token{Token::end, "", line}};
          out_.push_back(std::move(end));
          strip_after = raw_strip_after_;
        } else {
          out_.push_back(std::move(seg));
        }
      }
      const size_t before = pos_;
      if (strip_after) {
        pos_ = before + leading_space(std::string_view(src_).substr(before));
      } else if (opt_.trim_blocks && kind != '{' && pos_ < src_.size() && src_[pos_] == '\n') {
        ++pos_;
      }
      line_starting = pos_ > before && src_[pos_ - 1] == '\n';
    }
    return std::move(out_);
  }

 private:
  Error fail(int line, const std::string& what) const {
    return Error(ErrorCode::chat_template_syntax,
                 "template '" + std::string(name_) + "' line " + std::to_string(line) + ": " + what);
  }

  int line_at(size_t at) {
    while (line_pos_ < at) {
      if (src_[line_pos_++] == '\n') ++line_;
    }
    return line_;
  }

  size_t find_tag(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
    }
    return src_.size();
  }

  void emit_text(std::string text) {
    if (text.empty()) return;
    if (!out_.empty() && out_.back().kind == Segment::data) {
      out_.back().text += text;
      return;
    }
    Segment s;
    s.kind = Segment::data;
    s.text = std::move(text);
    out_.push_back(std::move(s));
  }

  // Tokens up to the closing "}}" or "%}" (with an optional "-" before it).
  Status tokens(char close, std::vector<Token>& out, bool* strip_after) {
    int depth = 0;  // open brackets: a "}" inside a dict literal does not close "{{"
    while (true) {
      while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' ||
                                    src_[pos_] == '\r' || src_[pos_] == '\f' || src_[pos_] == '\v')) {
        ++pos_;
      }
      const int line = line_at(pos_);
      if (pos_ >= src_.size()) return fail(line, std::string("unexpected end of template, expected '") + close + "}'");
      const char c = src_[pos_];
      if (depth == 0) {
        if (c == '-' && pos_ + 2 < src_.size() && src_[pos_ + 1] == close && src_[pos_ + 2] == '}') {
          pos_ += 3;
          *strip_after = true;
          out.push_back(Token{Token::end, "", line});
          return {};
        }
        if (c == close && pos_ + 1 < src_.size() && src_[pos_ + 1] == '}') {
          pos_ += 2;
          out.push_back(Token{Token::end, "", line});
          return {};
        }
      }
      if (out.size() > 100000) return fail(line, "tag too long");
      if (is_name_start(c)) {
        const size_t b = pos_;
        while (pos_ < src_.size() && (is_name_start(src_[pos_]) || is_digit(src_[pos_]))) ++pos_;
        out.push_back(Token{Token::name, src_.substr(b, pos_ - b), line});
      } else if (is_digit(c)) {
        LLMD_TRY(number(out, line));
      } else if (c == '\'' || c == '"') {
        LLMD_TRY(string_literal(out, line));
      } else {
        static const char* const kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                           "<",  ">",  "=",  "(",  ")",  "[", "]", "{", "}", ",", ".", ":", "|"};
        bool found = false;
        for (const char* op : kOps) {
          const std::string_view o(op);
          if (src_.compare(pos_, o.size(), o) == 0) {
            if (o == "(" || o == "[" || o == "{") ++depth;
            if ((o == ")" || o == "]" || o == "}") && depth > 0) --depth;
            out.push_back(Token{Token::op, std::string(o), line});
            pos_ += o.size();
            found = true;
            break;
          }
        }
        if (!found) return fail(line, std::string("unexpected character '") + c + "'");
      }
    }
  }

  Status number(std::vector<Token>& out, int line) {
    const size_t b = pos_;
    bool is_float = false;
    while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        is_float = true;
        pos_ = p;
        while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
      }
    }
    std::string t;
    for (size_t i = b; i < pos_; ++i) {
      if (src_[i] != '_') t += src_[i];
    }
    out.push_back(Token{is_float ? Token::floating : Token::integer, std::move(t), line});
    return {};
  }

  Status string_literal(std::vector<Token>& out, int line) {
    const char q = src_[pos_++];
    std::string s;
    while (true) {
      if (pos_ >= src_.size()) return fail(line, "unterminated string literal");
      const char c = src_[pos_++];
      if (c == q) break;
      if (c != '\\') {
        s += c;
        continue;
      }
      if (pos_ >= src_.size()) return fail(line, "unterminated string literal");
      const char e = src_[pos_++];
      switch (e) {
        case 'n': s += '\n'; break;
        case 't': s += '\t'; break;
        case 'r': s += '\r'; break;
        case '0': s += '\0'; break;
        case 'a': s += '\a'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'v': s += '\v'; break;
        case '\\': s += '\\'; break;
        case '\'': s += '\''; break;
        case '"': s += '"'; break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int i = 0; i < n; ++i) {
            if (pos_ >= src_.size()) return fail(line, "bad escape in string literal");
            const char h = src_[pos_++];
            cp <<= 4;
            if (is_digit(h)) cp |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
            else return fail(line, "bad escape in string literal");
          }
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) cp = 0xFFFD;
          utf8::append(s, cp);
          break;
        }
        default:  // Python keeps unknown escapes as they are
          s += '\\';
          s += e;
      }
    }
    out.push_back(Token{Token::string, std::move(s), line});
    return {};
  }

  // The text up to "{% endraw %}"; pos_ moves past that tag.
  Result<std::string> raw_block(int line) {
    size_t p = pos_;
    while (true) {
      const size_t at = src_.find("{%", p);
      if (at == std::string::npos) return fail(line, "missing {% endraw %}");
      size_t q = at + 2;
      const bool strip_before = q < src_.size() && src_[q] == '-';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
      while (q < src_.size() && (src_[q] == ' ' || src_[q] == '\t' || src_[q] == '\n')) ++q;
      if (src_.compare(q, 6, "endraw") != 0) {
        p = at + 2;
        continue;
      }
      q += 6;
      while (q < src_.size() && (src_[q] == ' ' || src_[q] == '\t' || src_[q] == '\n')) ++q;
      raw_strip_after_ = q < src_.size() && src_[q] == '-';
      if (raw_strip_after_) ++q;
      if (src_.compare(q, 2, "%}") != 0) return fail(line, "bad {% endraw %} tag");
      std::string text = src_.substr(pos_, at - pos_);
      if (strip_before) text.resize(rstrip_end(text));
      pos_ = q + 2;
      return text;
    }
  }

  std::string src_;
  std::string_view name_;
  LexOptions opt_;
  size_t pos_ = 0;
  size_t line_pos_ = 0;
  int line_ = 1;
  bool raw_strip_after_ = false;
  std::vector<Segment> out_;
};

std::string normalise_newlines(std::string_view s, bool keep_trailing_newline) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out += s[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Result<std::vector<Segment>> lex(std::string_view source, std::string_view template_name, const LexOptions& options) {
  return Lexer(normalise_newlines(source, options.keep_trailing_newline), template_name, options).run();
}

}  // namespace llmd::engine::jinja
