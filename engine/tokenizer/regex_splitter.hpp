// Splits text into pre-tokenizer pieces with a chain of regular expressions
// (PCRE2 in UTF mode with Unicode properties, JIT-compiled where available).
// Each expression cuts every current piece into its matches and the gaps
// between them; lookarounds see only the piece being cut. Invalid UTF-8 never
// matches and ends up in gap pieces, so no byte of the input is lost.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace llmd::engine {

class RegexSplitter {
 public:
  // Compiles the chain; the error names the expression that fails (and is
  // "tokenizer_no_regex" in builds without PCRE2).
  static Result<std::unique_ptr<RegexSplitter>> create(std::span<const std::string_view> patterns);

  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends the pieces of `text` (views into it, in order, covering it
  // exactly) to `out`. Safe to call from several threads at once.
  void split(std::string_view text, std::vector<std::string_view>* out) const;

  // True when the engine was built with PCRE2.
  static bool available();

  struct Compiled;  // one compiled expression (defined by the implementation)

 private:
  RegexSplitter() = default;
  std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace llmd::engine
