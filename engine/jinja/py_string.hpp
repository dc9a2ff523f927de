// Python str semantics on UTF-8 text, as the templates see them: whitespace
// (str.isspace), strip/lstrip/rstrip, split, case mapping, title and
// capitalize. Case mapping covers ASCII, Latin-1, Greek and Cyrillic letters;
// other characters are left as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::engine::jinja {

bool py_isspace(uint32_t cp);

// The [begin, end) byte range of `s` that strip() keeps: characters in
// `chars` (code points) or, when absent, whitespace, removed from the ends.
struct Span {
  size_t begin, end;
};
Span py_strip_span(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);

// str.split(sep, maxsplit): `sep` absent splits on runs of whitespace and
// drops empty pieces. Returns byte ranges of the pieces.
std::vector<Span> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);

// str.replace(old, new, count) (count < 0: all).
std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);

}  // namespace llmd::engine::jinja
