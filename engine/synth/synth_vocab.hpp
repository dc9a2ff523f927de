// A generated SentencePiece-style vocabulary of any size >= 300 for synthetic
// models: <unk>, <s>, </s>, the 256 byte-fallback tokens, then word pieces
// ("▁" + letters, letters) with decreasing scores. Every string is unique, so
// tokenizers accept it and every command works on synthetic models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_writer.hpp"

namespace llmd::engine::synth {

constexpr int kMinSynthVocab = 300;

struct SynthVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;  // 1 normal, 2 unknown, 3 control, 6 byte
};

Result<SynthVocab> make_synth_vocab(int n_vocab);

// Writes tokenizer.ggml.* metadata for the vocabulary (model "llama", BOS 1, EOS 2, UNK 0).
void write_synth_vocab(const SynthVocab& vocab, gguf::GgufWriter* w);

}  // namespace llmd::engine::synth
