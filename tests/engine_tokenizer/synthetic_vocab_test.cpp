// Tokenizer rules checked on small hand-made vocabularies: merge order by
// rank and by score, byte fallback, the leading-space rule, special tokens,
// metadata errors, and lossless byte handling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "engine/tokenizer/regex_splitter.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/utf8.hpp"
#include "tests/engine_tokenizer/synthetic_vocab.hpp"

namespace llmd::engine {
namespace {

using Ids = std::vector<int32_t>;
using test::ByteBpeVocab;
using test::TokenSpec;

std::unique_ptr<Tokenizer> build(const gguf::GgufWriter& w) {
  auto f = test::to_file(w);
  if (!f) return nullptr;
  auto tok = Tokenizer::from_gguf(*f);
  EXPECT_TRUE(tok.ok()) << (tok.ok() ? "" : tok.error().message);
  return tok.ok() ? std::move(*tok) : nullptr;
}

Error build_error(const gguf::GgufWriter& w) {
  auto f = test::to_file(w);
  if (!f) return Error(ErrorCode::no_file, "");
  auto tok = Tokenizer::from_gguf(*f);
  EXPECT_FALSE(tok.ok());
  return tok.ok() ? Error(ErrorCode::test, "loaded") : tok.error();
}

#define REQUIRE_BPE()                                                       \
  do {                                                                      \
    if (!RegexSplitter::available()) GTEST_SKIP() << "built without PCRE2"; \
  } while (0)

TEST(ByteBpe, MergesFollowRankThenPosition) {
  REQUIRE_BPE();
  ByteBpeVocab v;
  const int32_t ab = v.merge("a", "b");    // rank 0
  const int32_t bc = v.merge("b", "c");    // rank 1
  const int32_t abc = v.merge("ab", "c");  // rank 2
  auto tok = build(v.writer());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("abc", false, false), (Ids{abc}));
  EXPECT_EQ(tok->encode("bc", false, false), (Ids{bc}));
  // "abab": both "ab" pairs merge, leftmost first, same result.
  EXPECT_EQ(tok->encode("abab", false, false), (Ids{ab, ab}));
  // "bcab": "ab" has the lower rank but does not overlap "bc".
  EXPECT_EQ(tok->encode("bcab", false, false), (Ids{bc, ab}));
  // "aab": "a" then "ab".
  EXPECT_EQ(tok->encode("aab", false, false), (Ids{'a', ab}));

  ByteBpeVocab w;
  const int32_t bc2 = w.merge("b", "c");  // now "bc" comes first
  w.merge("a", "b");
  auto tok2 = build(w.writer());
  ASSERT_TRUE(tok2);
  EXPECT_EQ(tok2->encode("abc", false, false), (Ids{'a', bc2}));
}

TEST(ByteBpe, SpacesAreByteCharactersAndPiecesSplitByTheRules) {
  REQUIRE_BPE();
  ByteBpeVocab v;
  const std::string G = "\xC4\xA0";  // "Ġ", the character for a space
  const int32_t sp_h = v.merge(G, "h");         // rank 0
  const int32_t sp_he = v.merge(G + "h", "e");   // rank 1
  const int32_t sp_hey = v.merge(G + "he", "y");  // rank 2
  const int32_t he = v.merge("h", "e");          // rank 3
  const int32_t hey = v.merge("he", "y");        // rank 4
  auto tok = build(v.writer());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("hey hey", false, false), (Ids{hey, sp_hey}));
  EXPECT_EQ(tok->encode("he", false, false), (Ids{he}));
  // The GPT-2 rules never glue a letter run to the punctuation after it.
  EXPECT_EQ(tok->encode("hey!", false, false), (Ids{hey, '!'}));
  // Two spaces: the first stands alone ("\s+(?!\S)"), the second leads the word.
  const Ids two = tok->encode("  he", false, false);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(tok->token_text(two[0]), G);
  EXPECT_EQ(two[1], sp_he);
  (void)sp_h;
  EXPECT_EQ(tok->decode(tok->encode("hey hey  he", false, false)), "hey hey  he");
}

TEST(ByteBpe, AnyBytesSurviveEncoding) {
  REQUIRE_BPE();
  ByteBpeVocab v;
  v.merge("a", "b");
  auto tok = build(v.writer());
  ASSERT_TRUE(tok);
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += "ab\xF0\x9F\x98\x80\xC3\x28\xED\xA0\x80";
  const Ids ids = tok->encode(bytes, false, false);
  std::string raw;
  for (int32_t id : ids) raw += tok->token_piece(id);
  EXPECT_EQ(raw, bytes);
  // decode() itself always returns valid UTF-8.
  const std::string text = tok->decode(ids);
  EXPECT_TRUE(utf8::is_valid(text));
}

TEST(ByteBpe, SpecialAndUserDefinedTokens) {
  REQUIRE_BPE();
  ByteBpeVocab v;
  const int32_t end = v.add("<|end|>", 3);
  const int32_t tool = v.add("<tool>", 4);
  const int32_t bos = v.add("<|bos|>", 3);
  gguf::GgufWriter w = v.writer();
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(end));
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  auto tok = build(w);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("x<|end|>", false, true), (Ids{'x', end}));
  EXPECT_EQ(tok->encode("x<|end|>", false, false).size(), 8u);
  EXPECT_EQ(tok->encode("x<tool>y", false, false), (Ids{'x', tool, 'y'}));
  EXPECT_EQ(tok->encode("x", true, false), (Ids{bos, 'x'}));
  EXPECT_TRUE(tok->is_eog(end));
  EXPECT_EQ(tok->decode(Ids{bos, 'x', end}), "<|bos|>x<|end|>");
  DecodeOptions plain;
  plain.render_special = false;
  EXPECT_EQ(tok->decode(Ids{bos, 'x', tool, end}, plain), "x<tool>");

  // Literal ranges: control-token text inside them stays text.
  const std::string text = "<|end|>a<|end|>";
  const std::vector<std::pair<size_t, size_t>> first{{0, 7}}, part{{5, 6}}, none{};
  Ids lit = tok->encode(text, false, true, first);
  EXPECT_EQ(std::count(lit.begin(), lit.end(), end), 1);
  EXPECT_EQ(lit.back(), end);
  EXPECT_EQ(tok->decode(lit), text);
  lit = tok->encode(text, false, true, part);  // overlapping a range is enough
  EXPECT_EQ(std::count(lit.begin(), lit.end(), end), 1);
  EXPECT_EQ(lit.back(), end);
  EXPECT_EQ(tok->encode(text, false, true, none), (Ids{end, 'a', end}));
  // User-defined tokens are matched inside literal text too (as without parsing).
  EXPECT_EQ(tok->encode("<tool>", false, true, std::vector<std::pair<size_t, size_t>>{{0, 6}}), (Ids{tool}));
}

// SentencePiece vocabulary with byte fallback.
gguf::GgufWriter spm_writer(std::vector<TokenSpec> extra) {
  std::vector<TokenSpec> toks = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    toks.push_back({name, 0, 6});
  }
  for (auto& t : extra) toks.push_back(t);
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  test::set_tokens(w, toks);
  return w;
}

constexpr int32_t kFirst = 3 + 256;  // id of the first extra token

TEST(SentencePiece, HighestScoreMergesFirst) {
  // ▁ a b ab ▁a ▁ab bc abc
  auto w = spm_writer({{"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1}, {"c", -1}, {"ab", -3}, {"bc", -2},
                       {"\xE2\x96\x81" "a", -5}, {"abc", -4}});
  auto tok = build(w);
  ASSERT_TRUE(tok);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->bos_id(), 1);
  // " abc": "bc" (-2) beats "ab" (-3) and "▁a" (-5); then "a"+"bc" makes "abc"
  // (-4), and "▁abc" is no token.
  EXPECT_EQ(tok->encode("abc", false, false), (Ids{kFirst + 0, kFirst + 7}));
  EXPECT_EQ(tok->encode("abc", true, false), (Ids{1, kFirst + 0, kFirst + 7}));
  // " bca": "bc" then nothing ("▁b" and "bca" are no tokens).
  EXPECT_EQ(tok->encode("bca", false, false), (Ids{kFirst + 0, kFirst + 5, kFirst + 1}));
  // " ab": "ab" (-3) beats "▁a" (-5).
  EXPECT_EQ(tok->encode("ab", false, false), (Ids{kFirst + 0, kFirst + 4}));
  EXPECT_EQ(tok->decode(tok->encode("ab abc", false, false)), "ab abc");
}

TEST(SentencePiece, UnknownCharactersFallBackToBytes) {
  auto w = spm_writer({{"\xE2\x96\x81", -1}, {"a", -1}});
  auto tok = build(w);
  ASSERT_TRUE(tok);
  // "é" is C3 A9: two byte tokens (<0xC3> is id 3 + 0xC3).
  EXPECT_EQ(tok->encode("a\xC3\xA9", false, false), (Ids{kFirst, kFirst + 1, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->decode(tok->encode("a\xC3\xA9", false, false)), "a\xC3\xA9");
  // Without the leading-space rule no "▁" is added.
  auto w2 = spm_writer({{"\xE2\x96\x81", -1}, {"a", -1}});
  w2.set_bool("tokenizer.ggml.add_space_prefix", false);
  auto tok2 = build(w2);
  ASSERT_TRUE(tok2);
  EXPECT_EQ(tok2->encode("a", false, false), (Ids{kFirst + 1}));
  EXPECT_EQ(tok2->decode(Ids{kFirst, kFirst + 1}), " a");
}

TEST(SentencePiece, TextAfterASpecialTokenGetsTheLeadingSpace) {
  auto w = spm_writer({{"\xE2\x96\x81", -1}, {"a", -1}, {"\xE2\x96\x81" "a", -2}, {"<|x|>", 0, 3}});
  auto tok = build(w);
  ASSERT_TRUE(tok);
  const int32_t sp_a = kFirst + 2, x = kFirst + 3;
  EXPECT_EQ(tok->encode("a<|x|>a", false, true), (Ids{sp_a, x, sp_a}));
}

TEST(Metadata, UnknownTokenizerModelIsNamed) {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "bert");
  test::set_tokens(w, {{"[PAD]"}, {"a"}});
  const Error e = build_error(w);
  EXPECT_EQ(e.code, ErrorCode::tokenizer_unsupported_model);
  EXPECT_NE(e.message.find("'bert'"), std::string::npos) << e.message;
  w.set_string("tokenizer.ggml.model", "t5");
  EXPECT_NE(build_error(w).message.find("'t5'"), std::string::npos);
  w.set_string("tokenizer.ggml.model", "rwkv");
  EXPECT_NE(build_error(w).message.find("'rwkv'"), std::string::npos);
}

TEST(Metadata, UnknownPreTokenizerIsNamed) {
  ByteBpeVocab v;
  const Error e = build_error(v.writer("frobnicator-9"));
  if (!RegexSplitter::available()) GTEST_SKIP();
  EXPECT_EQ(e.code, ErrorCode::tokenizer_unsupported_pre);
  EXPECT_NE(e.message.find("'frobnicator-9'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("llama-bpe"), std::string::npos) << "lists the known ones";
}

TEST(Metadata, MissingOrMistypedKeysAreErrors) {
  gguf::GgufWriter none;
  none.set_string("general.architecture", "llama");
  EXPECT_EQ(build_error(none).code, ErrorCode::tokenizer_missing);

  gguf::GgufWriter no_tokens;
  no_tokens.set_string("tokenizer.ggml.model", "llama");
  EXPECT_EQ(build_error(no_tokens).code, ErrorCode::tokenizer_bad_metadata);

  auto short_scores = spm_writer({{"a"}});
  short_scores.set("tokenizer.ggml.scores", gguf::GgufValue::f32_array({0.0f}));
  const Error e = build_error(short_scores);
  EXPECT_EQ(e.code, ErrorCode::tokenizer_bad_metadata);
  EXPECT_NE(e.message.find("tokenizer.ggml.scores"), std::string::npos);

  auto wrong_type = spm_writer({{"a"}});
  wrong_type.set_string("tokenizer.ggml.add_bos_token", "yes");
  EXPECT_NE(build_error(wrong_type).message.find("tokenizer.ggml.add_bos_token"), std::string::npos);

  ByteBpeVocab v;
  auto no_merges = v.writer();
  no_merges.remove("tokenizer.ggml.merges");
  if (RegexSplitter::available()) {
    EXPECT_NE(build_error(no_merges).message.find("tokenizer.ggml.merges"), std::string::npos);
  }
  auto bos_missing = v.writer();
  bos_missing.set_bool("tokenizer.ggml.add_bos_token", true);
  if (RegexSplitter::available()) {
    EXPECT_NE(build_error(bos_missing).message.find("bos_token_id"), std::string::npos);
  }
}

TEST(Metadata, ByteBpeWithoutPcre2IsAClearError) {
  if (RegexSplitter::available()) GTEST_SKIP() << "this build has PCRE2";
  ByteBpeVocab v;
  EXPECT_EQ(build_error(v.writer()).code, ErrorCode::tokenizer_no_regex);
}

TEST(Metadata, NanScoresDoNotBreakMerging) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto w = spm_writer({{"\xE2\x96\x81", nan}, {"a", nan}, {"b", -1}, {"ab", nan}, {"\xE2\x96\x81" "a", -2}});
  auto tok = build(w);
  ASSERT_TRUE(tok);
  // "▁a" (-2) beats "ab" (NaN, read as the lowest score).
  EXPECT_EQ(tok->encode("ab", false, false), (Ids{kFirst + 4, kFirst + 2}));
}

TEST(Metadata, DuplicateTokenTextsKeepTheFirstId) {
  auto w = spm_writer({{"\xE2\x96\x81" "a", -1}, {"\xE2\x96\x81" "a", -1}, {"b", -1}});
  auto tok = build(w);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("a", false, false), (Ids{kFirst}));
  EXPECT_EQ(tok->vocab().find("b"), kFirst + 2);
  EXPECT_EQ(tok->vocab().find("absent"), -1);
  EXPECT_EQ(tok->vocab().find(""), -1);
}

TEST(Metadata, OutOfRangeSpecialIdsAreIgnored) {
  auto w = spm_writer({{"a"}});
  w.set_u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
  w.set_u32("tokenizer.ggml.eot_token_id", 999999);
  auto tok = build(w);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->eot_id(), -1);
  EXPECT_EQ(tok->eog_ids().size(), 1u);  // just </s>
}

}  // namespace
}  // namespace llmd::engine
