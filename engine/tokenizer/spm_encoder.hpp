// SentencePiece-style BPE (tokenizer.ggml.model = "llama"): start from single
// characters and repeatedly merge the adjacent pair whose concatenation is the
// vocabulary token with the highest score (leftmost first on ties). Characters
// that end up as no token are written as byte tokens <0xNN> (byte fallback).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocab.hpp"

namespace llmd::engine {

class SpmEncoder {
 public:
  explicit SpmEncoder(const Vocab& vocab);

  // `text` is one fragment with spaces already written as U+2581 ("▁") and
  // the leading space, if any, already added. Appends ids to `out`.
  void encode(std::string_view text, std::vector<int32_t>* out) const;

 private:
  void encode_chunk(std::string_view text, std::vector<int32_t>* out) const;

  const Vocab& vocab_;
  std::array<int32_t, 256> byte_token_{};  // token for each byte value, -1 if none
  // True when no token has a U+2581 after another character (all vocabularies
  // trained with whitespace splitting): then no merge can cross the start of
  // a space-led word, and words can be encoded one by one with the same result.
  bool words_independent_ = false;
};

}  // namespace llmd::engine
