// Kernels over one row of n_vocab logits: the few O(n_vocab) loops a sample
// needs (copy, max, exp and sums), vectorized with AVX2 where the CPU has it
// and SSE2 otherwise. Every kernel computes bit-identical values on either path
// (the same IEEE single-precision operations, no fused multiply-add), and the
// same values as the scalar steps of choice_steps.hpp (exp_nonpositive,
// block_weight_sum) that the CUDA sampling kernel runs, so a seed reproduces
// the same tokens on every x86-64 machine and on the device.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling/choice_steps.hpp"

namespace llmd::engine {


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
