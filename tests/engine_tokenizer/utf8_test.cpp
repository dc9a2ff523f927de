// UTF-8 validation and repair: ill-formed input becomes U+FFFD per maximal
// subpart (the same result as Python's bytes.decode("utf-8", "replace")), and
// streaming repair does not depend on where the input is cut.
#include <gtest/gtest.h>

#include <random>

#include "engine/tokenizer/byte_unicode.hpp"
#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine {
namespace {

const std::string R = "\xEF\xBF\xBD";

TEST(Utf8, Validation) {
  size_t bad = 99;
  EXPECT_TRUE(utf8::is_valid(""));
  EXPECT_TRUE(utf8::is_valid("plain ascii"));
  EXPECT_TRUE(utf8::is_valid("\xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xA9"));
  EXPECT_FALSE(utf8::is_valid("ab\xC0\xAF", &bad));
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(utf8::is_valid("\xE2\x82"));          // truncated
  EXPECT_FALSE(utf8::is_valid("\x80"));
}

TEST(Utf8, RepairMatchesTheStandardPractice) {
  EXPECT_EQ(utf8::sanitize("\xC0\xAF"), R + R);
  EXPECT_EQ(utf8::sanitize("\xE0\x80\x80"), R + R + R);
  EXPECT_EQ(utf8::sanitize("\xF0\x9F\x98"), R);
  EXPECT_EQ(utf8::sanitize("\xED\xA0\x80"), R + R + R);
  EXPECT_EQ(utf8::sanitize("a\xF0\x9F\x98" "b"), "a" + R + "b");
  EXPECT_EQ(utf8::sanitize("\xF4\x90\x80\x80"), R + R + R + R);
  EXPECT_EQ(utf8::sanitize("\xFF\xFE"), R + R);
  EXPECT_EQ(utf8::sanitize("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(Utf8, StreamingRepairIsIndependentOfCuts) {
  std::mt19937 rng(7);
  const std::string alphabet[] = {"a", "\xC3", "\xA9", "\xE2", "\x82", "\xAC", "\xF0", "\x9F", "\x98",
                                  "\x80", "\xED", "\xA0", "\xFF", "\xC0", "\xF4", "\x90"};
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) s += alphabet[rng() % 16];
    const std::string whole = utf8::sanitize(s);
    ASSERT_TRUE(utf8::is_valid(whole));
    utf8::Sanitizer z;
    std::string parts;
    size_t pos = 0;
    while (pos < s.size()) {
      const size_t len = std::min<size_t>(s.size() - pos, rng() % 4);
      std::string piece = z.push(std::string_view(s).substr(pos, len));
      ASSERT_TRUE(utf8::is_valid(piece));
      parts += piece;
      pos += len;
    }
    parts += z.finish();
    ASSERT_EQ(parts, whole) << "round " << round;
  }
}

TEST(ByteUnicode, MapsEveryByteReversibly) {
  EXPECT_EQ(byte_unicode::encoded(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(byte_unicode::encoded('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(byte_unicode::encoded('A'), "A");
  EXPECT_EQ(byte_unicode::code_point(0xAD), 0x143u);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string enc, dec;
  byte_unicode::encode(all, &enc);
  EXPECT_TRUE(utf8::is_valid(enc));
  byte_unicode::decode(enc, &dec);
  EXPECT_EQ(dec, all);
}

}  // namespace
}  // namespace llmd::engine
