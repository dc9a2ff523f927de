// TokenConstraint: a per-sequence hook that says which tokens may come next
// (structured output masks the rest). The sampler applies it after the logit
// processors and before temperature and truncation, so a masked token can
// never be drawn, whatever the bias or penalties; log-probabilities then
// describe the constrained distribution. The mask is a plain bitset over the
// vocabulary so that any sampler (CPU now, a GPU one later) can apply it.
#pragma once

#include <cstdint>
#include <span>

namespace llmd::engine {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;

  // The tokens that may come next: bit (i % 64) of word i / 64 is set when
  // token i may. Valid until the next call on this object.
  virtual std::span<const uint64_t> allowed() = 0;

  // Advances past token `id`; false (and no change) when it was not allowed.
  virtual bool accept(int32_t id) = 0;

  // Nothing may follow: the sequence ends here.
  virtual bool finished() const = 0;
};

// Sets every logit whose bit is clear to -infinity. Tokens past the bitset's
// end count as not allowed.
void apply_token_mask(std::span<float> logits, std::span<const uint64_t> allowed);

}  // namespace llmd::engine
