// Appending JSON text to a string, for the response and stream-chunk builders
// (written by hand: a chunk is built per generated token on the engine thread,
// and this is several times cheaper than building a DOM and serialising it).
//
// Strings are always valid JSON: ill-formed UTF-8 (a model can produce any
// bytes) becomes U+FFFD, control characters are escaped. Numbers are always
// finite: NaN and infinities are replaced as each function says.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmd::openai {

// `s` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

void append_json_int(std::string& out, int64_t v);

// A finite number in the shortest form that reads back to the same float.
// NaN and infinities are written as `fallback`.
void append_json_float(std::string& out, float v, float fallback = 0.0f);

// The stand-in for a log-probability that is -inf (a token the logit bias or
// a filter ruled out) or NaN: JSON has no infinity.
inline constexpr float kLogprobFloor = -9999.0f;

// A log-probability; -inf and NaN become kLogprobFloor.
inline void append_logprob(std::string& out, float lp) { append_json_float(out, lp, kLogprobFloor); }

// The raw bytes of `s` as a JSON array of integers ([72,105]).
void append_json_bytes(std::string& out, std::string_view s);

}  // namespace llmd::openai
