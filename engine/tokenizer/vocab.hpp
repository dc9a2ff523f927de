// A tokenizer vocabulary as described by a GGUF file's `tokenizer.ggml.*`
// metadata: token texts, scores and types, the special-token ids, the
// add-BOS/EOS and leading-space flags, and the end-of-generation set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/flat_hash.hpp"

namespace llmd::engine {

// Token attributes (bit flags). The first six come from
// tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined,
// 5 unused, 6 byte); the strip flags make special-token matching swallow
// whitespace beside the token.
namespace token_attr {
inline constexpr uint32_t kNormal = 1u << 0;
inline constexpr uint32_t kUnknown = 1u << 1;
inline constexpr uint32_t kControl = 1u << 2;
inline constexpr uint32_t kUserDefined = 1u << 3;
inline constexpr uint32_t kUnused = 1u << 4;
inline constexpr uint32_t kByte = 1u << 5;
inline constexpr uint32_t kLstrip = 1u << 6;
inline constexpr uint32_t kRstrip = 1u << 7;
}  // namespace token_attr

enum class VocabKind {
  kSentencePiece,  // tokenizer.ggml.model = "llama"
  kByteBpe,        // tokenizer.ggml.model = "gpt2"
};

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = token_attr::kNormal;
};

class Vocab {
 public:
  // Reads and checks the tokenizer metadata. Errors name the key at fault;
  // an unsupported tokenizer.ggml.model is "tokenizer_unsupported_model".
  static Result<std::unique_ptr<Vocab>> load(const gguf::GgufFile& file);

  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  VocabKind kind() const { return kind_; }
  const std::string& model() const { return model_; }  // tokenizer.ggml.model
  const std::string& pre() const { return pre_; }      // tokenizer.ggml.pre ("" if absent)
  const std::string& name() const { return name_; }    // general.name

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const TokenData& token(int32_t id) const { return tokens_[static_cast<size_t>(id)]; }
  bool valid_id(int32_t id) const { return id >= 0 && id < size(); }
  uint32_t attr(int32_t id) const { return tokens_[static_cast<size_t>(id)].attr; }

  // Id of the token whose text is exactly `text`, or -1.
  int32_t find(std::string_view text) const { return index_.find(text); }

  // Special ids (-1 when absent).
  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }
  int32_t eot_id() const { return eot_; }
  int32_t eom_id() const { return eom_; }
  int32_t unk_id() const { return unk_; }
  int32_t pad_id() const { return pad_; }

  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  bool is_eog(int32_t id) const { return valid_id(id) && eog_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eog_ids() const { return eog_list_; }

  // Tokens matched in raw text before the model's own tokenization (control,
  // user-defined and unknown ones), longest text first.
  const std::vector<int32_t>& special_tokens() const { return special_by_length_; }

  // Applies the per-family defaults for add_bos (set by the pre-tokenizer
  // table) unless the file states tokenizer.ggml.add_bos_token itself.
  void set_default_add_bos(bool v) {
    if (!add_bos_from_file_) add_bos_ = v;
  }
  // Checks that a requested BOS/EOS exists (call after the defaults).
  Status check_flags() const;

 private:
  Vocab() = default;
  Status read_tokens(const gguf::GgufFile& file);
  Status read_special_ids(const gguf::GgufFile& file);
  void detect_end_of_generation();
  void apply_name_rules();
  void build_special_list();

  VocabKind kind_ = VocabKind::kSentencePiece;
  std::string model_, pre_, name_;
  std::vector<TokenData> tokens_;
  StringIndex index_;  // views into tokens_[i].text

  int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, pad_ = -1, sep_ = -1;
  int32_t fim_pad_ = -1, fim_rep_ = -1, fim_sep_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool add_bos_from_file_ = false;

  std::vector<bool> eog_;
  std::vector<int32_t> eog_list_;
  std::vector<int32_t> special_by_length_;
};

}  // namespace llmd::engine
