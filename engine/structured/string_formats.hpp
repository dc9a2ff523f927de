// String formats a schema may ask for ("format"), as byte automata over the
// string's content (between the quotes; ASCII only, no escapes):
//
//   date       YYYY-MM-DD, month 01-12, day 01-31 (RFC 3339 full-date)
//   time       HH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), hour 00-23 (RFC 3339 full-time)
//   date-time  date "T" time
//   uuid       8-4-4-4-12 hexadecimal digits
//   email      local@domain: local part of [A-Za-z0-9._%+-] (no leading,
//              trailing or doubled dot, at most 64), domain labels of
//              [A-Za-z0-9-] not starting or ending with "-", at least two
//              labels, the last at least two letters long
//
// The automaton state lives in the string's Frame (a, b, c, m1, m2), which
// starts zeroed.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/structured/grammar.hpp"
#include "engine/structured/json_matcher.hpp"

namespace llmd::engine::structured {

// The format named by a schema's "format" keyword, if llmd implements it.
std::optional<StringFormat> parse_string_format(std::string_view name);

// Advances the automaton by one content byte; false when the byte may not come next.
bool format_step(StringFormat fmt, Frame& f, uint8_t c);

// The content so far is a complete value of the format.
bool format_accepts(StringFormat fmt, const Frame& f);

}  // namespace llmd::engine::structured
