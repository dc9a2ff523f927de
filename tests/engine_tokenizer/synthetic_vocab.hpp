// Small hand-made vocabularies written with the GGUF writer, so tokenizer
// behaviour is tested without the reference folder and with outcomes that
// can be worked out by hand.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "engine/tokenizer/byte_unicode.hpp"

namespace llmd::test {

struct TokenSpec {
  std::string text;
  float score = 0.0f;
  int32_t type = 1;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
};

inline void set_tokens(gguf::GgufWriter& w, const std::vector<TokenSpec>& toks) {
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const auto& t : toks) {
    texts.push_back(t.text);
    scores.push_back(t.score);
    types.push_back(t.type);
  }
  w.set("tokenizer.ggml.tokens", gguf::GgufValue::string_array(texts));
  w.set("tokenizer.ggml.scores", gguf::GgufValue::f32_array(scores));
  w.set("tokenizer.ggml.token_type", gguf::GgufValue::i32_array(types));
}

inline std::unique_ptr<gguf::GgufFile> to_file(const gguf::GgufWriter& w) {
  auto bytes = w.to_bytes();
  EXPECT_TRUE(bytes.ok());
  auto f = gguf::GgufFile::from_bytes(std::move(*bytes), "synthetic.gguf");
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? std::move(*f) : nullptr;
}

// Byte-level BPE vocabulary: ids 0..255 are the byte characters, then the
// merge results in `merges` order, then `extra` tokens.
struct ByteBpeVocab {
  std::vector<TokenSpec> tokens;
  std::vector<std::string> merges;

  ByteBpeVocab() {
    for (int b = 0; b < 256; ++b) tokens.push_back({std::string(engine::byte_unicode::encoded(static_cast<uint8_t>(b)))});
  }
  // Adds merge "left right" and (unless `no_token`) its result as a token; returns the result's id.
  int32_t merge(const std::string& left, const std::string& right, bool no_token = false) {
    merges.push_back(left + " " + right);
    if (no_token) return -1;
    tokens.push_back({left + right});
    return static_cast<int32_t>(tokens.size() - 1);
  }
  int32_t add(const std::string& text, int32_t type) {
    tokens.push_back({text, 0.0f, type});
    return static_cast<int32_t>(tokens.size() - 1);
  }
  gguf::GgufWriter writer(const std::string& pre = "gpt-2") const {
    gguf::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "gpt2");
    if (!pre.empty()) w.set_string("tokenizer.ggml.pre", pre);
    set_tokens(w, tokens);
    w.set("tokenizer.ggml.merges", gguf::GgufValue::string_array(merges));
    return w;
  }
};

}  // namespace llmd::test
