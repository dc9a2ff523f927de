// UTF-8 helpers for the tokenizers: sequence lengths, validation, encoding a
// code point, and a streaming sanitizer that turns any byte stream into valid
// UTF-8 (ill-formed parts become U+FFFD) without ever splitting a code point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmd::engine::utf8 {

// Length of the sequence that starts with `lead` as its first byte says (1 to
// 4), or 1 for a byte that cannot start a sequence (so scanning moves on).
inline size_t sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// True when `s` is well-formed UTF-8; otherwise `*bad_offset` (if given) is
// the offset of the first byte of the first ill-formed sequence.
bool is_valid(std::string_view s, size_t* bad_offset = nullptr);

// Appends the UTF-8 encoding of code point `cp` (must be <= 0x10FFFF).
void append(std::string& out, uint32_t cp);

// Decodes the code point at s[pos] if it is a well-formed sequence; returns
// its length in bytes (0 when ill-formed or truncated).
size_t decode(std::string_view s, size_t pos, uint32_t* cp);

// Incremental UTF-8 repair. push() returns the longest well-formed output
// that the bytes seen so far determine; an incomplete sequence at the end is
// held back until the next push or finish(). Each maximal ill-formed subpart
// (as in Unicode's "best practice" for U+FFFD substitution) becomes one U+FFFD.
// The concatenation of all outputs depends only on the concatenated input,
// not on how it was cut into pushes.
class Sanitizer {
 public:
  std::string push(std::string_view bytes);
  void push(std::string_view bytes, std::string* out);
  // Flushes a held-back incomplete sequence (as U+FFFD) and resets.
  std::string finish();

 private:
  uint8_t pending_[4] = {};
  size_t n_pending_ = 0;   // bytes of an incomplete sequence seen so far
  size_t need_ = 0;        // total length of that sequence
};

// Whole-string form of Sanitizer.
std::string sanitize(std::string_view bytes);

}  // namespace llmd::engine::utf8
