// Behaviour of tokenizers built from the reference vocabularies beyond the
// plain test vectors: BOS/EOS, special-token parsing, end-of-generation sets,
// the SentencePiece leading-space rule around special tokens, and the
// stories260K prompts of the reference generations.
#include <gtest/gtest.h>

#include <thread>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/regex_splitter.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::engine {
namespace {

using Ids = std::vector<int32_t>;

std::unique_ptr<Tokenizer> load(const std::string& rel) {
  auto file = gguf::GgufFile::open(test::shared_file(rel).string());
  if (!file) {
    ADD_FAILURE() << file.error().message;
    return nullptr;
  }
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok) {
    ADD_FAILURE() << tok.error().message;
    return nullptr;
  }
  return std::move(*tok);
}

#define REQUIRE_BPE()                                                               \
  do {                                                                              \
    if (!RegexSplitter::available()) GTEST_SKIP() << "built without PCRE2";         \
  } while (0)

TEST(Stories260K, PromptIdsMatchTheReference) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  auto tok = load("models/stories260K.gguf");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  EXPECT_EQ(tok->encode("Once upon a time", true, false), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->encode("The little dog", true, false), (Ids{1, 291, 376, 400, 428}));
  EXPECT_EQ(tok->encode("Lily and Tom", true, false), (Ids{1, 317, 269, 274, 287}));
  EXPECT_EQ(tok->encode("Once upon a time", false, false), (Ids{403, 407, 261, 378}));
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_FALSE(tok->is_eog(1));
  // BOS renders as its text; the first text token loses the space encoding added.
  EXPECT_EQ(tok->decode(Ids{403, 407, 261, 378}), "Once upon a time");
  EXPECT_EQ(tok->decode(Ids{1, 403, 407}), "<s> Once upon");
  DecodeOptions plain;
  plain.render_special = false;
  EXPECT_EQ(tok->decode(Ids{1, 403, 407}, plain), " Once upon");
}

TEST(LlamaSpm, SpecialTokensOnlyWhenAsked) {
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-spm.gguf");
  auto tok = load("vocab/ggml-vocab-llama-spm.gguf");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("Hello world", true, false), (Ids{1, 15043, 3186}));
  // "<s>" is BOS only with parse_special; the text after it gets the leading space.
  EXPECT_EQ(tok->encode("<s>Hello", false, true), (Ids{1, 15043}));
  const Ids literal = tok->encode("<s>Hello", false, false);
  EXPECT_NE(literal.front(), 1);
  EXPECT_EQ(tok->decode(literal), "<s>Hello");
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_EQ(tok->eog_ids().size(), 1u);
}

TEST(Phi3, ChatTokensSwallowTheNewlineAfterThem) {
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-phi-3.gguf");
  auto tok = load("vocab/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("<|user|>\nHello<|end|>\n<|assistant|>\n", true, true),
            (Ids{1, 32010, 15043, 32007, 32001}));
  EXPECT_TRUE(tok->is_eog(32000));  // <|endoftext|> (EOS)
  EXPECT_TRUE(tok->is_eog(32007));  // <|end|>
  EXPECT_FALSE(tok->is_eog(32010));
}

TEST(Llama3, HeaderTokensAndEndOfTurn) {
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-bpe.gguf");
  REQUIRE_BPE();
  auto tok = load("vocab/ggml-vocab-llama-bpe.gguf");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->n_vocab(), 128256);
  EXPECT_EQ(tok->bos_id(), 128000);
  EXPECT_TRUE(tok->add_bos());
  const std::string prompt = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  EXPECT_EQ(tok->encode(prompt, true, true), (Ids{128000, 128006, 882, 128007, 271, 13347, 128009}));
  // Without parse_special the same text is ordinary text.
  const Ids literal = tok->encode(prompt, false, false);
  for (int32_t id : literal) EXPECT_LT(id, 128000);
  EXPECT_EQ(tok->decode(literal), prompt);
  EXPECT_TRUE(tok->is_eog(128001));  // <|end_of_text|>
  EXPECT_TRUE(tok->is_eog(128009));  // <|eot_id|>
  EXPECT_FALSE(tok->is_eog(128006));
  EXPECT_EQ(tok->eot_id(), 128009);
  EXPECT_EQ(tok->token_text(128009), "<|eot_id|>");
  EXPECT_EQ(tok->token_text(1917), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(tok->token_piece(1917), " world");
  EXPECT_EQ(tok->token_text(-1), "");
  EXPECT_EQ(tok->token_text(128256), "");
}

TEST(Qwen2, ImEndEndsGeneration) {
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-qwen2.gguf");
  REQUIRE_BPE();
  auto tok = load("vocab/ggml-vocab-qwen2.gguf");
  ASSERT_TRUE(tok);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_TRUE(tok->is_eog(151643));  // <|endoftext|>
  EXPECT_TRUE(tok->is_eog(151645));  // <|im_end|>
  EXPECT_FALSE(tok->is_eog(151644));  // <|im_start|>
  const Ids ids = tok->encode("<|im_start|>user\nHi<|im_end|>\n", true, true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 151645), ids.end());
}

TEST(DeepseekCoder, UserDefinedTokensAreAlwaysRecognised) {
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-deepseek-coder.gguf");
  REQUIRE_BPE();
  auto tok = load("vocab/ggml-vocab-deepseek-coder.gguf");
  ASSERT_TRUE(tok);
  // "<｜fim▁hole｜>" is a user-defined token: matched even without parse_special.
  const Ids ids = tok->encode("a<｜fim▁hole｜>b", false, false);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 32015), ids.end());
  // BOS is control: only with parse_special.
  EXPECT_EQ(tok->encode("<｜begin▁of▁sentence｜>", false, true), (Ids{32013}));
  EXPECT_GT(tok->encode("<｜begin▁of▁sentence｜>", false, false).size(), 1u);
  EXPECT_EQ(tok->encode("x", true, false).front(), 32013);
  EXPECT_TRUE(tok->is_eog(32014));
}

TEST(ConcurrentUse, ManyThreadsGetTheSameIds) {
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-bpe.gguf");
  REQUIRE_BPE();
  auto tok = load("vocab/ggml-vocab-llama-bpe.gguf");
  ASSERT_TRUE(tok);
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Sentence number " + std::to_string(i) + " has   some spaces,\tand 😀 too.\n";
  const Ids expected = tok->encode(text, true, false);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) ok[t] += tok->encode(text, true, false) == expected ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 5);
  EXPECT_EQ(tok->decode(Ids(expected.begin() + 1, expected.end())), text);
}

}  // namespace
}  // namespace llmd::engine
