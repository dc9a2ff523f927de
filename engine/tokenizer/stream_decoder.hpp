// Incremental, UTF-8-safe decoding for streaming: push() returns the text
// that the ids so far determine, never half a code point; finish() returns
// what is left. The concatenation of all push() results and finish() equals
// Tokenizer::decode() of all the ids (with the same DecodeOptions). One
// decoder per stream; the Tokenizer must outlive it. After finish() the
// decoder starts a new stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine {

class Tokenizer;
struct DecodeOptions;

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok);
  StreamDecoder(const Tokenizer& tok, const DecodeOptions& options);

  std::string push(int32_t id);
  std::string finish();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  bool strip_leading_space_;
  std::vector<int32_t> shown_control_;  // sorted
  bool first_ = true;
  utf8::Sanitizer utf8_;
};

}  // namespace llmd::engine
