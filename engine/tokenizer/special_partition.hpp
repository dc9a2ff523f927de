// Finds special-token text in raw input before the model's tokenizer sees it.
// User-defined tokens are always matched; control and unknown tokens only when
// the caller asks to parse special text. Longer tokens are matched first over
// the whole text; tokens marked lstrip/rstrip swallow the whitespace beside them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocab.hpp"

namespace llmd::engine {

struct Fragment {
  int32_t token = -1;  // >= 0: a special token; -1: raw text [offset, offset + length)
  size_t offset = 0;
  size_t length = 0;
};

class SpecialPartitioner {
 public:
  explicit SpecialPartitioner(const Vocab& vocab);

  // Splits `text` into raw-text fragments and special tokens, in order.
  // Control/unknown tokens overlapping a `literal` range [begin, end) are
  // left as text even when parse_special is set. The ranges must be sorted
  // and must not overlap.
  void partition(std::string_view text, bool parse_special, std::span<const std::pair<size_t, size_t>> literal,
                 std::vector<Fragment>* out) const;

 private:
  const Vocab& vocab_;
  // For each first byte, indices into vocab.special_tokens() of the tokens
  // whose text starts with it (for a single pass that finds which occur).
  std::array<std::vector<uint32_t>, 256> by_first_byte_;
};

}  // namespace llmd::engine
