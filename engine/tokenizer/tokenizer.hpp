// Text <-> token ids for a model, built from its GGUF tokenizer metadata:
// SentencePiece-style BPE ("llama") and byte-level BPE ("gpt2") with the
// pre-tokenizer rules named by tokenizer.ggml.pre. Thread-safe: one Tokenizer
// serves any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/stream_decoder.hpp"
#include "engine/tokenizer/vocab.hpp"

namespace llmd::engine {

class SpmEncoder;
class BpeEncoder;
class SpecialPartitioner;

// How ids become text.
struct DecodeOptions {
  // Render control/unknown tokens (BOS, <|eot_id|>, ...) as their text; when
  // false they contribute nothing.
  bool render_special = true;
  // SentencePiece vocabularies with the leading-space rule: drop the space
  // that the first token carries (the one encoding added), so that
  // decode(encode(s)) == s. Turn off when decoding a continuation.
  bool strip_leading_space = true;
  // Control tokens shown as their text even when render_special is false
  // (a tool-call format's markers, which the call parser must see).
  std::vector<int32_t> shown_control;
};

class Tokenizer {
 public:
  // Builds the tokenizer of a GGUF file. Errors: "tokenizer_missing",
  // "tokenizer_unsupported_model" (names tokenizer.ggml.model),
  // "tokenizer_unsupported_pre" (names tokenizer.ggml.pre),
  // "tokenizer_bad_metadata", "tokenizer_no_regex" (build without PCRE2).
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::GgufFile& file);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: add BOS/EOS as tokenizer.ggml.add_bos_token/add_eos_token
  // say. parse_special: text of control tokens ("<|eot_id|>", "<s>", ...) is
  // read as those tokens; otherwise it is tokenized as plain text.
  // User-defined tokens are always recognised. Any bytes are accepted;
  // invalid UTF-8 is kept byte for byte where the vocabulary can express it.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // As above, but special-token text inside the byte ranges [begin, end) of
  // `literal` (sorted, not overlapping) is never parsed as control tokens
  // (message content in a chat prompt); the rest of the tokenization runs
  // over the whole text as usual.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special,
                              std::span<const std::pair<size_t, size_t>> literal) const;

  // Full decode; special tokens rendered as their text. The result is valid
  // UTF-8 (ill-formed byte sequences become U+FFFD).
  std::string decode(std::span<const int32_t> ids) const;
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& options) const;

  // Raw vocabulary entry of a token ("" for an id out of range).
  std::string token_text(int32_t id) const;
  // Bytes a token contributes to decoded text (may be part of a code point).
  std::string_view token_piece(int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 when absent
  int32_t eos_id() const;  // -1 when absent
  int32_t eot_id() const;  // -1 when absent
  bool add_bos() const;
  bool add_eos() const;
  bool is_eog(int32_t id) const;  // end-of-generation: EOS, EOT, EOM and turn-end tokens
  std::span<const int32_t> eog_ids() const;
  bool is_control(int32_t id) const;  // control or unknown token (not plain text)

  VocabKind kind() const;
  const std::string& model() const;          // tokenizer.ggml.model
  const std::string& pre_tokenizer() const;  // family of the pre-tokenizer rules ("" for SentencePiece)
  const Vocab& vocab() const { return *vocab_; }

 private:
  friend class StreamDecoder;
  Tokenizer();
  // Piece of `id` for decoding, with the leading-space rule applied when
  // `first` (see DecodeOptions).
  std::string_view piece_for(int32_t id, bool first, bool render_special, bool strip_leading_space) const;

  std::unique_ptr<Vocab> vocab_;
  std::unique_ptr<SpecialPartitioner> partitioner_;
  std::unique_ptr<SpmEncoder> spm_;
  std::unique_ptr<BpeEncoder> bpe_;
  std::string pre_family_;
  std::vector<std::string> pieces_;  // decoded bytes of every token
};

}  // namespace llmd::engine
