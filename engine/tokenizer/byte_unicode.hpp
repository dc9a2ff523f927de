// The reversible byte <-> character mapping of byte-level BPE vocabularies:
// every byte value gets a printable code point (printable Latin-1 bytes map to
// themselves, the others to U+0100 and up), so that token texts never hold raw
// control bytes or spaces (a space is "Ġ", U+0120; a newline is "Ċ", U+010A).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmd::engine::byte_unicode {

// Code point that stands for byte `b`.
uint32_t code_point(uint8_t b);

// UTF-8 text of that code point (1 or 2 bytes).
std::string_view encoded(uint8_t b);

// Appends the encoding of every byte of `bytes` to `out`.
void encode(std::string_view bytes, std::string* out);

// Byte that code point `cp` stands for, or -1 when it stands for none.
int byte_of(uint32_t cp);

// Decodes a token text back to bytes. Characters outside the mapping are
// copied through unchanged (their UTF-8 bytes).
void decode(std::string_view text, std::string* out);

}  // namespace llmd::engine::byte_unicode
