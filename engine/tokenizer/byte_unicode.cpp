#include "engine/tokenizer/byte_unicode.hpp"

#include <array>

#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::byte_unicode {
namespace {

// Bytes that stand for themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF.
constexpr bool is_self(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<uint32_t, 256> cp{};
  std::array<std::string, 256> text;
  std::array<int16_t, 512> byte{};  // code points below 0x200 -> byte, else -1

  Tables() {
    byte.fill(-1);
    uint32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      cp[b] = is_self(b) ? b : next++;
      utf8::append(text[b], cp[b]);
      byte[cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t code_point(uint8_t b) { return tables().cp[b]; }

std::string_view encoded(uint8_t b) { return tables().text[b]; }

void encode(std::string_view bytes, std::string* out) {
  const Tables& t = tables();
  for (char c : bytes) out->append(t.text[static_cast<uint8_t>(c)]);
}

int byte_of(uint32_t cp) { return cp < 512 ? tables().byte[cp] : -1; }

void decode(std::string_view text, std::string* out) {
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = 0;
    size_t n = utf8::decode(text, pos, &cp);
    if (n == 0) {  // not UTF-8: copy the byte through
      out->push_back(text[pos]);
      ++pos;
      continue;
    }
    int b = byte_of(cp);
    if (b >= 0) out->push_back(static_cast<char>(b));
    else out->append(text.substr(pos, n));
    pos += n;
  }
}

}  // namespace llmd::engine::byte_unicode
