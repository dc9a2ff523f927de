#include "engine/jinja/py_string.hpp"

#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::jinja {
namespace {

struct Char {
  uint32_t cp;
  size_t begin, end;
};

std::vector<Char> chars_of(std::string_view s) {
  std::vector<Char> out;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8::decode(s, i, &cp);
    if (n == 0) {
      cp = 0xFFFD;  // an ill-formed byte is one character that is not a letter or space
      n = 1;
    }
    out.push_back({cp, i, i + n});
    i += n;
  }
  return out;
}

uint32_t upper_cp(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

uint32_t lower_cp(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool is_cased_letter(uint32_t c) { return upper_cp(c) != c || lower_cp(c) != c; }

template <typename F>
std::string map_chars(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (const Char& c : chars_of(s)) {
    const uint32_t m = f(c.cp, i++);
    if (m == c.cp) {
      out.append(s.substr(c.begin, c.end - c.begin));
    } else {
      utf8::append(out, m);
    }
  }
  return out;
}

}  // namespace

bool py_isspace(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

Span py_strip_span(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::vector<Char> cs = chars_of(s);
  std::vector<uint32_t> set;
  if (chars) {
    for (const Char& c : chars_of(*chars)) set.push_back(c.cp);
  }
  auto strip = [&](uint32_t cp) {
    if (!chars) return py_isspace(cp);
    for (uint32_t x : set) {
      if (x == cp) return true;
    }
    return false;
  };
  size_t b = 0, e = cs.size();
  if (left) {
    while (b < e && strip(cs[b].cp)) ++b;
  }
  if (right) {
    while (e > b && strip(cs[e - 1].cp)) --e;
  }
  if (b == e) return {0, 0};
  return {cs[b].begin, cs[e - 1].end};
}

std::vector<Span> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<Span> out;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t at = s.find(*sep, pos);
      if (at == std::string_view::npos) break;
      out.push_back({pos, at});
      pos = at + sep->size();
    }
    out.push_back({pos, s.size()});
    return out;
  }
  const std::vector<Char> cs = chars_of(s);
  size_t i = 0;
  while (i < cs.size()) {
    while (i < cs.size() && py_isspace(cs[i].cp)) ++i;
    if (i == cs.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      // The rest, with trailing whitespace kept as Python does.
      out.push_back({cs[i].begin, s.size()});
      return out;
    }
    const size_t start = i;
    while (i < cs.size() && !py_isspace(cs[i].cp)) ++i;
    out.push_back({cs[start].begin, cs[i - 1].end});
  }
  return out;
}

std::string py_upper(std::string_view s) {
  return map_chars(s, [](uint32_t c, size_t) { return upper_cp(c); });
}

std::string py_lower(std::string_view s) {
  return map_chars(s, [](uint32_t c, size_t) { return lower_cp(c); });
}

std::string py_title(std::string_view s) {
  bool prev_cased = false;
  return map_chars(s, [&](uint32_t c, size_t) {
    const uint32_t m = prev_cased ? lower_cp(c) : upper_cp(c);
    prev_cased = is_cased_letter(c);
    return m;
  });
}

std::string py_capitalize(std::string_view s) {
  return map_chars(s, [](uint32_t c, size_t i) { return i == 0 ? upper_cp(c) : lower_cp(c); });
}

std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every character and at the end.
    const std::vector<Char> cs = chars_of(s);
    int64_t n = 0;
    for (const Char& c : cs) {
      if (count < 0 || n < count) {
        out.append(to);
        ++n;
      }
      out.append(s.substr(c.begin, c.end - c.begin));
    }
    if (count < 0 || n < count) out.append(to);
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    const size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos)).append(to);
    pos = at + from.size();
    ++n;
  }
  out.append(s.substr(pos));
  return out;
}

}  // namespace llmd::engine::jinja
