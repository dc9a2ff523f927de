// Streaming decode: every piece pushed out is valid UTF-8 (never half a code
// point), and the pieces plus finish() always equal the full decode, for
// random id sequences over every reference vocabulary and for real text.
#include <gtest/gtest.h>

#include <random>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/byte_unicode.hpp"
#include "engine/tokenizer/regex_splitter.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/utf8.hpp"
#include "tests/engine_tokenizer/synthetic_vocab.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::engine {
namespace {

using Ids = std::vector<int32_t>;

// Decodes `ids` through a StreamDecoder, checking every piece on the way.
std::string stream(const Tokenizer& tok, const Ids& ids, const DecodeOptions& opt = {}) {
  StreamDecoder dec(tok, opt);
  std::string all;
  for (int32_t id : ids) {
    const std::string piece = dec.push(id);
    size_t bad = 0;
    EXPECT_TRUE(utf8::is_valid(piece, &bad)) << "piece for id " << id << " is not valid UTF-8 at " << bad;
    all += piece;
  }
  const std::string tail = dec.finish();
  EXPECT_TRUE(utf8::is_valid(tail));
  return all + tail;
}

void check_random_sequences(const Tokenizer& tok, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> any(0, tok.n_vocab() - 1);
  // Byte tokens (and byte-level pieces) are where code points get split, so
  // draw many of them.
  std::vector<int32_t> partial;
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    const std::string_view p = tok.token_piece(id);
    if (!p.empty() && !utf8::is_valid(p)) partial.push_back(id);
  }
  for (int round = 0; round < 200; ++round) {
    Ids ids;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (!partial.empty() && rng() % 2) ids.push_back(partial[rng() % partial.size()]);
      else ids.push_back(any(rng));
    }
    ASSERT_EQ(stream(tok, ids), tok.decode(ids)) << "round " << round;
    DecodeOptions raw;
    raw.render_special = false;
    raw.strip_leading_space = false;
    ASSERT_EQ(stream(tok, ids, raw), tok.decode(ids, raw)) << "round " << round;
  }
}

class StreamVocab : public ::testing::TestWithParam<const char*> {};

TEST_P(StreamVocab, PiecesConcatenateToTheFullDecode) {
  const std::string rel = std::string("vocab/") + GetParam();
  LLMD_REQUIRE_SHARED_FILE(rel);
  auto file = gguf::GgufFile::open(test::shared_file(rel).string());
  ASSERT_TRUE(file.ok());
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok && tok.error().code == ErrorCode::tokenizer_no_regex) GTEST_SKIP() << "built without PCRE2";
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  check_random_sequences(**tok, 1234);

  // Real text with multi-byte characters split across tokens.
  const std::string text = "Emoji 🦙🚀😶‍🌫️ and Ünïcödé, 我想在apple工作, нещо на Български, ក​ាន់";
  const Ids ids = (*tok)->encode(text, false, false);
  EXPECT_EQ(stream(**tok, ids), text);
  EXPECT_EQ((*tok)->decode(ids), text);

  // Arbitrary bytes (ill-formed UTF-8, NULs, special-token text) never break
  // encoding; on valid UTF-8, byte-level vocabularies that have a token for
  // every byte keep every byte (Falcon's lacks a few control bytes).
  bool all_bytes = (*tok)->kind() == VocabKind::kByteBpe;
  for (int b = 0; b < 256 && all_bytes; ++b) {
    all_bytes = (*tok)->vocab().find(byte_unicode::encoded(static_cast<uint8_t>(b))) >= 0;
  }
  std::mt19937 rng(99);
  const std::string pieces[] = {"<|eot_id|>", "<s>", "</s>", "\xF0\x9F", "\xC3", " ", "\n", "a", std::string(1, '\0'), "<"};
  for (int round = 0; round < 100; ++round) {
    const bool valid_only = round % 2 == 0;
    std::string bytes;
    const int n = static_cast<int>(rng() % 64);
    for (int i = 0; i < n; ++i) {
      if (valid_only) {
        uint32_t cp = rng() % 3 ? rng() % 0x80 : rng() % 0x3000;
        if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
        utf8::append(bytes, cp);
      } else if (rng() % 3 == 0) {
        bytes += pieces[rng() % std::size(pieces)];
      } else {
        bytes += static_cast<char>(rng() & 0xFF);
      }
    }
    for (bool special : {false, true}) {
      const Ids got = (*tok)->encode(bytes, true, special);
      for (int32_t id : got) ASSERT_TRUE(id >= 0 && id < (*tok)->n_vocab());
      EXPECT_TRUE(utf8::is_valid((*tok)->decode(got)));
      if (valid_only && all_bytes && !special) {
        std::string raw;
        for (size_t i = (*tok)->add_bos() ? 1 : 0; i < got.size(); ++i) raw += (*tok)->token_piece(got[i]);
        EXPECT_EQ(raw, bytes) << "round " << round;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, StreamVocab,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                                           "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf",
                                           "ggml-vocab-qwen2.gguf", "ggml-vocab-deepseek-coder.gguf",
                                           "ggml-vocab-falcon.gguf"));

TEST(StreamDecoder, HoldsBackAnIncompleteCodePoint) {
  if (!RegexSplitter::available()) GTEST_SKIP() << "built without PCRE2";
  test::ByteBpeVocab v;
  auto f = test::to_file(v.writer());
  ASSERT_TRUE(f);
  auto tok = Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.ok());
  // Byte tokens are ids 0..255 here: push "😀" (F0 9F 98 80) one byte at a time.
  StreamDecoder dec(**tok);
  EXPECT_EQ(dec.push(0xF0), "");
  EXPECT_EQ(dec.push(0x9F), "");
  EXPECT_EQ(dec.push(0x98), "");
  EXPECT_EQ(dec.push(0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(dec.push('a'), "a");
  // A sequence cut short by a plain byte becomes U+FFFD, then the byte.
  EXPECT_EQ(dec.push(0xE2), "");
  EXPECT_EQ(dec.push('b'), "\xEF\xBF\xBD" "b");
  // finish() flushes what is held back.
  EXPECT_EQ(dec.push(0xC3), "");
  EXPECT_EQ(dec.finish(), "\xEF\xBF\xBD");
  // Ids outside the vocabulary contribute nothing.
  EXPECT_EQ(dec.push(-5), "");
  EXPECT_EQ(dec.push(1 << 30), "");
  EXPECT_EQ(dec.finish(), "");
}

}  // namespace
}  // namespace llmd::engine

namespace llmd::engine {
namespace {

// A tool-call format's markers are control tokens in some vocabularies: the
// ones named in shown_control are shown as text, the other control tokens
// still show nothing, in a full decode and a stream alike.
TEST(StreamDecoderShownControl, NamedControlTokensAreShownOthersAreNot) {
  const std::string rel = "vocab/ggml-vocab-llama-bpe.gguf";
  LLMD_REQUIRE_SHARED_FILE(rel);
  auto file = gguf::GgufFile::open(test::shared_file(rel).string());
  ASSERT_TRUE(file.ok());
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok && tok.error().code == ErrorCode::tokenizer_no_regex) GTEST_SKIP() << "built without PCRE2";
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const Tokenizer& t = **tok;
  const int32_t header = t.vocab().find("<|start_header_id|>");
  const int32_t eot = t.vocab().find("<|eot_id|>");
  ASSERT_GE(header, 0);
  ASSERT_GE(eot, 0);
  ASSERT_TRUE(t.is_control(header));
  Ids ids = t.encode("Hi", false, false);
  ids.insert(ids.begin(), header);
  ids.push_back(eot);
  DecodeOptions opt;
  opt.render_special = false;
  EXPECT_EQ(t.decode(ids, opt), "Hi");
  opt.shown_control = {header};
  EXPECT_EQ(t.decode(ids, opt), "<|start_header_id|>Hi");
  EXPECT_EQ(stream(t, ids, opt), "<|start_header_id|>Hi");
}

}  // namespace
}  // namespace llmd::engine
