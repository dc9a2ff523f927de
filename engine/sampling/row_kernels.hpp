// Kernels over one row of n_vocab logits: the few O(n_vocab) loops a sample
// needs (copy, max, exp and sums), vectorized with AVX2 where the CPU has it
// and SSE2 otherwise. Every kernel computes bit-identical values on either path
// (the same IEEE single-precision operations, no fused multiply-add), so a
// seed reproduces the same tokens on every x86-64 machine.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace llmd::engine {

// Weights below this argument are 0: exp(-87) is about the smallest normal float.
inline constexpr float kExpCutoff = -87.0f;
// Rows are summed in blocks of this many entries (block_sums of exp_weights).
// A draw walks the block sums, then one block entry by entry (a chain of
// dependent additions): 128 keeps both walks short for small and large vocabularies.
inline constexpr size_t kRowBlock = 128;

// Fused multiply-add would round differently from separate operations; the
// kernels must compute the same bits whatever -march the project is built
// with, so contraction is switched off for them (here and in row_kernels.cpp).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

// exp(x) for x <= 0 (a logit minus the row's maximum): relative error below
// 2e-7, exactly 1 at 0 and exactly 0 below kExpCutoff (so also for -inf).
// Range reduction x = n·ln2 + r with |r| <= ln2/2, a degree-7 polynomial for
// e^r, and 2^n put together from its exponent bits. The vector kernels use the
// same operations in the same order. Outside the domain it stays defined:
// positive x gives 1, NaN gives 0.
inline float exp_nonpositive(float x) {
  const float xc = x >= kExpCutoff ? (x < 0.0f ? x : 0.0f) : kExpCutoff;  // NaN → cutoff
  // Round x·log2(e) to the nearest integer by adding and removing 1.5·2^23.
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693145751953125f;  // ln2 split in a high part exact in float ...
  r = r - n * 1.428606765330187045e-06f;  // ... and the low rest
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);  // 2^n
  return x >= kExpCutoff ? p * scale : 0.0f;
}

#pragma GCC pop_options

// dst[i] = src[i], with NaN replaced by -inf and +inf by the largest finite float.
void copy_sanitized(std::span<const float> src, std::span<float> dst);

// The largest value of x; -inf when x is empty.
float max_value(std::span<const float> x);

// Σ_i exp_nonpositive((x[i] - shift) * scale), summed in double over blocks.
// shift must be >= every x[i] and scale > 0.
double exp_sum(std::span<const float> x, float shift, float scale);

// w[i] = exp_nonpositive((x[i] - shift) * scale), or 0 where that is below
// floor; returns Σ_i w[i]. When block_sums is given it receives the sum of each
// block of kRowBlock entries (the last one possibly shorter), and the return
// value is the sum of those in order. w.size() must equal x.size().
double exp_weights(std::span<const float> x, float shift, float scale, float floor, std::span<float> w,
                   std::vector<double>* block_sums);

// The first index i ≥ from with x[i] ≥ t (find_at_least) or x[i] > t
// (find_greater); x.size() when there is none. Scans eight entries at a time,
// so visiting every match of a rare condition costs about one vector compare
// per eight entries.
size_t find_at_least(std::span<const float> x, size_t from, float t);
size_t find_greater(std::span<const float> x, size_t from, float t);

// Appends to *ids, in order, the indices i with x[i] ≥ t, stopping once more
// than max_count were found. Returns false when it stopped early.
bool indices_at_least(std::span<const float> x, float t, size_t max_count, std::vector<int32_t>* ids);

// Truncates dense weights in place: w[i] stays only when w[i] ≥ floor and
// token i is ordered no later than (last_weight, last_id) in order (weight
// desc, id asc); the others become 0. Returns the new Σ w and refills
// block_sums as exp_weights does.
double keep_weights(std::span<float> w, float floor, float last_weight, int32_t last_id,
                    std::vector<double>* block_sums);

}  // namespace llmd::engine
