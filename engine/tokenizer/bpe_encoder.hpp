// Byte-level BPE (tokenizer.ggml.model = "gpt2"): text is cut into pieces by
// the family's pre-tokenizer expressions, every byte of a piece becomes the
// character that stands for it (see byte_unicode.hpp), and adjacent symbols
// are merged by tokenizer.ggml.merges, lowest rank (earliest merge) first.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/flat_hash.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"
#include "engine/tokenizer/regex_splitter.hpp"
#include "engine/tokenizer/vocab.hpp"

namespace llmd::engine {

class BpeEncoder {
 public:
  // Reads tokenizer.ggml.merges and compiles the pre-tokenizer expressions.
  static Result<std::unique_ptr<BpeEncoder>> create(const Vocab& vocab, const gguf::GgufFile& file,
                                                    const PreTokenizerRules& rules);

  // Appends the ids of one text fragment (no special tokens in it) to `out`.
  void encode(std::string_view text, std::vector<int32_t>* out) const;

 private:
  explicit BpeEncoder(const Vocab& vocab) : vocab_(vocab) {}
  int32_t symbol_id(std::string_view text) const;  // vocab id, extra id, or -1
  int32_t intern(const std::string& text);          // vocab id or a new extra id
  std::string_view symbol_text(int32_t sym) const;
  void encode_piece(std::string_view piece, std::string* scratch, std::vector<int32_t>* out) const;
  void emit(int32_t sym, std::vector<int32_t>* out) const;

  const Vocab& vocab_;
  std::unique_ptr<RegexSplitter> splitter_;
  bool ignore_merges_ = false;
  // Texts that merges produce or consume but the vocabulary lacks get ids
  // from vocab.size() upward.
  std::vector<std::string> extra_text_;
  std::unordered_map<std::string, int32_t> extra_index_;
  PairMap merges_;  // (left symbol, right symbol) -> (rank, merged symbol)
  std::array<int32_t, 256> byte_symbol_{};  // symbol of each byte's character, -1 if none
};

}  // namespace llmd::engine
