// Pre-tokenizer rules of byte-level BPE vocabularies, chosen by the GGUF key
// tokenizer.ggml.pre. Each rule set is a list of regular expressions applied
// in turn: every expression splits each piece left by the previous ones into
// its matches and the text between them (both kept, in order), and BPE then
// runs inside each final piece. The expressions are those of the models'
// own tokenizer definitions, in PCRE2 syntax (UTF + Unicode properties).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::engine {

struct PreTokenizerRules {
  std::string_view family;                // canonical name, e.g. "llama3"
  std::vector<std::string_view> regexes;  // applied in order
  bool ignore_merges = false;             // a piece that is itself a token is not split by merges
  std::optional<bool> add_bos;            // default for add_bos when the file does not say
  bool no_bos = false;                    // the family has no BOS token
};

// Rules for a tokenizer.ggml.pre value; nullptr when unknown. An empty value
// (older files) selects "default".
const PreTokenizerRules* find_pre_tokenizer(std::string_view pre);

// Every tokenizer.ggml.pre value this build knows, sorted (for error messages).
std::vector<std::string> known_pre_tokenizers();

}  // namespace llmd::engine
