#include "engine/jinja/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::jinja {
namespace {

Error json_error(std::string m) { return Error(ErrorCode::chat_template_error, std::move(m)); }

void append_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (ensure_ascii && c >= 0x80) {
      uint32_t cp = 0xFFFD;
      const size_t n = utf8::decode(s, i, &cp);
      i += (n ? n : 1) - 1;
      auto esc = [&](uint32_t u) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\u%04x", u);
        out += buf;
      };
      if (cp >= 0x10000) {
        esc(0xD800 + ((cp - 0x10000) >> 10));
        esc(0xDC00 + ((cp - 0x10000) & 0x3FF));
      } else {
        esc(n ? cp : 0xFFFD);
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

Status write(const Value& v, const JsonFormat& f, int level, std::string& out) {
  if (level > 512) return json_error("tojson: value nested too deeply");
  if (out.size() > kMaxPrintedBytes) {
    return Error(ErrorCode::chat_template_limit, "tojson: the value's text exceeds " + std::to_string(kMaxPrintedBytes) + " bytes");
  }
  auto newline = [&](int lvl) {
    if (!f.indent) return;
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += *f.indent;
  };
  if (v.is_none()) {
    out += "null";
  } else if (v.is_bool()) {
    out += v.as_bool() ? "true" : "false";
  } else if (v.is_int()) {
    out += std::to_string(v.as_int());
  } else if (v.is_float()) {
    const double d = v.as_float();
    out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : float_repr(d);
  } else if (v.is_string()) {
    append_string(out, v.text(), f.ensure_ascii);
  } else if (v.is_list()) {
    const List& l = v.list();
    if (l.empty()) {
      out += "[]";
      return {};
    }
    out += '[';
    for (size_t i = 0; i < l.size(); ++i) {
      if (i) out += f.item_separator;
      newline(level + 1);
      LLMD_TRY(write(l[i], f, level + 1, out));
    }
    newline(level);
    out += ']';
  } else if (v.is_dict() && !v.dict().is_namespace && !v.dict().is_loop) {
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& e : v.dict().entries) items.push_back(&e);
    if (items.empty()) {
      out += "{}";
      return {};
    }
    if (f.sort_keys) {
      std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
    }
    out += '{';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += f.item_separator;
      newline(level + 1);
      append_string(out, items[i]->first, f.ensure_ascii);
      out += f.key_separator;
      LLMD_TRY(write(items[i]->second, f, level + 1, out));
    }
    newline(level);
    out += '}';
  } else {
    return json_error("Object of type " + v.type_name() + " is not JSON serializable");
  }
  return {};
}

class Parser {
 public:
  Parser(std::string_view s, bool taint, int max_depth) : s_(s), taint_(taint), max_depth_(max_depth) {}

  Result<Value> document() {
    auto v = value(0);
    if (!v) return v;
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected text after the value");
    return v;
  }

 private:
  Error fail(const std::string& what) const {
    return Error(ErrorCode::invalid_argument, "JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  Result<Value> value(int depth) {
    if (depth > max_depth_) return fail("nesting deeper than " + std::to_string(max_depth_));
    skip_ws();
    if (pos_ >= s_.size()) return fail("unexpected end");
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      auto d = Dict::make();
      if (eat('}')) return Value(d);
      do {
        skip_ws();
        auto k = string();
        if (!k) return k.take_error();
        if (!eat(':')) return fail("':' expected");
        auto v = value(depth + 1);
        if (!v) return v;
        d->set(std::move(*k), std::move(*v));
      } while (eat(','));
      if (!eat('}')) return fail("'}' expected");
      return Value(d);
    }
    if (c == '[') {
      ++pos_;
      List l;
      if (eat(']')) return Value(std::move(l));
      do {
        auto v = value(depth + 1);
        if (!v) return v;
        l.push_back(std::move(*v));
      } while (eat(','));
      if (!eat(']')) return fail("']' expected");
      return Value(std::move(l));
    }
    if (c == '"') {
      auto s = string();
      if (!s) return s.take_error();
      return taint_ ? Value::tainted(std::move(*s)) : Value(std::move(*s));
    }
    if (word("true")) return Value(true);
    if (word("false")) return Value(false);
    if (word("null")) return Value(None{});
    return number();
  }

  Result<Value> number() {
    const size_t begin = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    bool is_float = false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E' ||
                 ((c == '+' || c == '-') && pos_ > begin && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E'))) {
        is_float = true;
        ++pos_;
      } else {
        break;
      }
    }
    const std::string_view t = s_.substr(begin, pos_ - begin);
    if (t.empty() || t == "-") return fail("a value expected");
    if (!is_float) {
      int64_t i = 0;
      auto r = std::from_chars(t.data(), t.data() + t.size(), i);
      if (r.ec == std::errc() && r.ptr == t.data() + t.size()) return Value(i);
    }
    double d = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), d);
    if (r.ptr != t.data() + t.size()) return fail("bad number");
    return Value(d);
  }

  Result<uint32_t> hex4() {
    if (pos_ + 4 > s_.size()) return fail("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    return v;
  }

  Result<std::string> string() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return fail("string expected");
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) return fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto cp = hex4();
          if (!cp) return cp.take_error();
          uint32_t code = *cp;
          if (code >= 0xD800 && code < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            auto lo = hex4();
            if (!lo) return lo.take_error();
            if (*lo >= 0xDC00 && *lo < 0xE000) {
              code = 0x10000 + ((code - 0xD800) << 10) + (*lo - 0xDC00);
            } else {
              utf8::append(out, 0xFFFD);
              code = *lo;
            }
          }
          if (code >= 0xD800 && code < 0xE000) code = 0xFFFD;
          utf8::append(out, code);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
  }

  std::string_view s_;
  bool taint_;
  int max_depth_;
  size_t pos_ = 0;
};

}  // namespace

Result<Str> to_json(const Value& v, const JsonFormat& format) {
  Str out;
  LLMD_TRY(write(v, format, 0, out.text));
  if (any_taint(v)) out.taint.add(0, out.text.size());
  return out;
}

Result<Value> parse_json(std::string_view text, bool taint, int max_depth) {
  return Parser(text, taint, max_depth).document();
}

}  // namespace llmd::engine::jinja
