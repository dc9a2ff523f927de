#include "daemon/openai/json_text.hpp"

#include <charconv>
#include <cmath>

#include "engine/tokenizer/utf8.hpp"

namespace llmd::openai {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// `s` is valid UTF-8: escape what JSON requires and pass the rest through.
void append_escaped(std::string& out, std::string_view s) {
  size_t run = 0;  // start of the current run of bytes copied as they are
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  if (engine::utf8::is_valid(s)) {
    append_escaped(out, s);
  } else {
    append_escaped(out, engine::utf8::sanitize(s));
  }
  out += '"';
}

void append_json_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

void append_json_float(std::string& out, float v, float fallback) {
  if (!std::isfinite(v)) v = fallback;
  if (!std::isfinite(v)) v = 0.0f;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out += text;
  // "1e-05" and "3" are valid JSON numbers already; nothing to add.
}

void append_json_bytes(std::string& out, std::string_view s) {
  out += '[';
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    append_json_int(out, static_cast<unsigned char>(s[i]));
  }
  out += ']';
}

}  // namespace llmd::openai
