#include "engine/synth/synth_vocab.hpp"

#include <cstdio>
#include <unordered_set>

namespace llmd::engine::synth {
namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's word-start marker

}  // namespace

Result<SynthVocab> make_synth_vocab(int n_vocab) {
  if (n_vocab < kMinSynthVocab)
    return Error(ErrorCode::synth_bad_shape, "a synthetic vocabulary needs at least " + std::to_string(kMinSynthVocab) +
                                        " tokens, got " + std::to_string(n_vocab));
  SynthVocab v;
  v.tokens.reserve(static_cast<size_t>(n_vocab));
  std::unordered_set<std::string> seen;
  auto add = [&](std::string s, float score, int32_t type) {
    if (static_cast<int>(v.tokens.size()) >= n_vocab || !seen.insert(s).second) return;
    v.tokens.push_back(std::move(s));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, 2);
  add("<s>", 0.0f, 3);
  add("</s>", 0.0f, 3);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0.0f, 6);
  }
  // Word pieces: the marker, printable ASCII, marker + ASCII, then letter
  // strings of growing length with and without the marker.
  float score = -1.0f;
  auto piece = [&](std::string s) {
    add(std::move(s), score, 1);
    score -= 1.0f;
  };
  piece(kSpace);
  for (char ch = 33; ch < 127; ++ch) piece(std::string(1, ch));
  for (char ch = 33; ch < 127; ++ch) piece(kSpace + std::string(1, ch));
  const std::string letters = "etaoinshrdlcumwfgypbvkjxqz";
  std::vector<std::string> frontier(letters.size());
  for (size_t i = 0; i < letters.size(); ++i) frontier[i] = std::string(1, letters[i]);
  while (static_cast<int>(v.tokens.size()) < n_vocab) {
    std::vector<std::string> next;
    for (const std::string& w : frontier) {
      for (char ch : letters) {
        std::string s = w + ch;
        piece(kSpace + s);
        piece(s);
        if (static_cast<int>(v.tokens.size()) >= n_vocab) break;
        if (next.size() < 200000) next.push_back(std::move(s));
      }
      if (static_cast<int>(v.tokens.size()) >= n_vocab) break;
    }
    frontier = std::move(next);
  }
  return v;
}

void write_synth_vocab(const SynthVocab& vocab, gguf::GgufWriter* w) {
  w->set_string("tokenizer.ggml.model", "llama");
  w->set("tokenizer.ggml.tokens", gguf::GgufValue::string_array(vocab.tokens));
  w->set("tokenizer.ggml.scores", gguf::GgufValue::f32_array(vocab.scores));
  w->set("tokenizer.ggml.token_type", gguf::GgufValue::i32_array(vocab.types));
  w->set_u32("tokenizer.ggml.bos_token_id", 1);
  w->set_u32("tokenizer.ggml.eos_token_id", 2);
  w->set_u32("tokenizer.ggml.unknown_token_id", 0);
  w->set_bool("tokenizer.ggml.add_bos_token", true);
  w->set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace llmd::engine::synth
