#include "engine/sampling/token_constraint.hpp"

#include <limits>

namespace llmd::engine {

void apply_token_mask(std::span<float> logits, std::span<const uint64_t> allowed) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t n = logits.size();
  for (size_t w = 0; w * 64 < n; ++w) {
    const uint64_t bits = w < allowed.size() ? allowed[w] : 0;
    if (bits == ~uint64_t{0}) continue;
    const size_t end = std::min(n, w * 64 + 64);
    for (size_t i = w * 64; i < end; ++i) {
      if (!(bits >> (i - w * 64) & 1)) logits[i] = kNegInf;
    }
  }
}

}  // namespace llmd::engine
