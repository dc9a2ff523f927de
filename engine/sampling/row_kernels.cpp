#include "engine/sampling/row_kernels.hpp"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <limits>

// Same bits on every build: no fused multiply-add (see row_kernels.hpp).
#pragma GCC optimize("fp-contract=off")

namespace llmd::engine {
namespace {

// Eight floats / int32s. On the SSE2 build GCC splits each operation in two
// halves; the AVX2 clone does it in one register. Every helper that takes or
// returns them is always inlined (LLMD_LANES), also at -O0: each clone then
// has its own copy, and no call passes a 32-byte vector between code built for
// different instruction sets (the ABI difference -Wpsabi warns about).
#pragma GCC diagnostic ignored "-Wpsabi"
using V8f = float __attribute__((vector_size(32)));
using V8i = int32_t __attribute__((vector_size(32)));
constexpr size_t kLanes = 8;

// On x86-64 each kernel is built twice and the loader picks one per CPU:
// "avx2" where supported, the baseline otherwise. Neither enables FMA, which
// would change results. Elsewhere the compiler's baseline is used, and so it
// is under ThreadSanitizer, whose instrumented code cannot run in the
// loader's resolvers (they run before the sanitizer's runtime is set up).
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define LLMD_ROW_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define LLMD_ROW_KERNEL
#endif
#define LLMD_LANES __attribute__((always_inline)) inline

LLMD_LANES V8f load(const float* p) {
  V8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

LLMD_LANES void store(float* p, const V8f& v) { std::memcpy(p, &v, sizeof v); }

LLMD_LANES V8f splat(float x) { return V8f{} + x; }

// exp_nonpositive on eight lanes, operation for operation.
LLMD_LANES void exp_lanes(const V8f& x, V8f* out) {
  const V8f cutoff = splat(kExpCutoff);
  const V8f xc = x >= cutoff ? (x < V8f{} ? x : V8f{}) : cutoff;
  const V8f n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  V8f r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  V8f p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const V8i bits = (__builtin_convertvector(n, V8i) + 127) << 23;
  V8f scale;
  std::memcpy(&scale, &bits, sizeof scale);
  *out = x >= cutoff ? p * scale : V8f{};
}

LLMD_LANES float lane_sum(const V8f& v) {
  float s = 0.0f;
  for (size_t i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

// The shared body of exp_sum and exp_weights: per block, eight lane sums in
// float, then the block total in double.
template <bool kStore>
LLMD_LANES double exp_blocks(std::span<const float> x, float shift, float scale,
                                                         float floor, float* w, std::vector<double>* block_sums) {
  const size_t n = x.size();
  const float* src = x.data();
  const V8f vshift = splat(shift), vfloor = splat(floor);
  double total = 0.0;
  for (size_t begin = 0; begin < n; begin += kRowBlock) {
    const size_t end = std::min(n, begin + kRowBlock);
    V8f acc{};
    size_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      V8f e;
      exp_lanes((load(src + i) - vshift) * scale, &e);
      e = e < vfloor ? V8f{} : e;
      if constexpr (kStore) store(w + i, e);
      acc += e;
    }
    float block = lane_sum(acc);
    for (; i < end; ++i) {
      float e = exp_nonpositive((src[i] - shift) * scale);
      e = e < floor ? 0.0f : e;
      if constexpr (kStore) w[i] = e;
      block += e;
    }
    if (block_sums) block_sums->push_back(block);
    total += block;
  }
  return total;
}

LLMD_LANES bool any_lane(const V8i& mask) {
  uint64_t words[4];
  std::memcpy(words, &mask, sizeof words);
  return (words[0] | words[1] | words[2] | words[3]) != 0;
}

template <bool kOrEqual>
LLMD_LANES size_t find_first(std::span<const float> x, size_t from, float t) {
  const size_t n = x.size();
  const V8f vt = splat(t);
  auto hit = [t](float v) { return kOrEqual ? v >= t : v > t; };
  size_t i = from;
  for (; i < n && i % kLanes != 0; ++i)
    if (hit(x[i])) return i;
  for (; i + kLanes <= n; i += kLanes) {
    const V8f v = load(x.data() + i);
    const V8i mask = kOrEqual ? (v >= vt) : (v > vt);
    if (any_lane(mask)) break;
  }
  for (; i < n; ++i)
    if (hit(x[i])) return i;
  return n;
}

}  // namespace

LLMD_ROW_KERNEL size_t find_at_least(std::span<const float> x, size_t from, float t) {
  return find_first<true>(x, from, t);
}

LLMD_ROW_KERNEL size_t find_greater(std::span<const float> x, size_t from, float t) {
  return find_first<false>(x, from, t);
}

LLMD_ROW_KERNEL bool indices_at_least(std::span<const float> x, float t, size_t max_count,
                                      std::vector<int32_t>* ids) {
  const size_t n = x.size();
  const V8f vt = splat(t);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const V8f v = load(x.data() + i);
    if (!any_lane(v >= vt)) continue;
    for (size_t l = 0; l < kLanes; ++l)
      if (v[l] >= t) ids->push_back(static_cast<int32_t>(i + l));
    if (ids->size() > max_count) return false;
  }
  for (; i < n; ++i)
    if (x[i] >= t) ids->push_back(static_cast<int32_t>(i));
  return ids->size() <= max_count;
}

LLMD_ROW_KERNEL void copy_sanitized(std::span<const float> src, std::span<float> dst) {
  assert(src.size() == dst.size());
  const size_t n = src.size();
  const V8f neg_inf = splat(-std::numeric_limits<float>::infinity());
  const V8f big = splat(std::numeric_limits<float>::max());
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    V8f v = load(src.data() + i);
    v = v > big ? big : v;
    v = v == v ? v : neg_inf;  // NaN is the only value not equal to itself
    store(dst.data() + i, v);
  }
  for (; i < n; ++i) {
    float v = src[i];
    v = v > std::numeric_limits<float>::max() ? std::numeric_limits<float>::max() : v;
    dst[i] = v == v ? v : -std::numeric_limits<float>::infinity();
  }
}

LLMD_ROW_KERNEL float max_value(std::span<const float> x) {
  const size_t n = x.size();
  float best = -std::numeric_limits<float>::infinity();
  size_t i = 0;
  if (n >= kLanes) {
    V8f acc = splat(best);
    for (; i + kLanes <= n; i += kLanes) {
      const V8f v = load(x.data() + i);
      acc = v > acc ? v : acc;
    }
    for (size_t l = 0; l < kLanes; ++l) best = std::max(best, acc[l]);
  }
  for (; i < n; ++i) best = std::max(best, x[i]);
  return best;
}

LLMD_ROW_KERNEL double exp_sum(std::span<const float> x, float shift, float scale) {
  return exp_blocks<false>(x, shift, scale, 0.0f, nullptr, nullptr);
}

LLMD_ROW_KERNEL double exp_weights(std::span<const float> x, float shift, float scale, float floor,
                                   std::span<float> w, std::vector<double>* block_sums) {
  assert(w.size() == x.size());
  if (block_sums) block_sums->clear();
  return exp_blocks<true>(x, shift, scale, floor, w.data(), block_sums);
}

LLMD_ROW_KERNEL double keep_weights(std::span<float> w, float floor, float last_weight, int32_t last_id,
                                    std::vector<double>* block_sums) {
  block_sums->clear();
  const size_t n = w.size();
  const V8f vfloor = splat(floor), vlast = splat(last_weight);
  const V8i lanes = {0, 1, 2, 3, 4, 5, 6, 7};
  double total = 0.0;
  for (size_t begin = 0; begin < n; begin += kRowBlock) {
    const size_t end = std::min(n, begin + kRowBlock);
    V8f acc{};
    size_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      V8f v = load(w.data() + i);
      const V8i id = lanes + static_cast<int32_t>(i);
      const V8i keep = (v >= vfloor) & ((v > vlast) | ((v == vlast) & (id <= last_id)));
      v = keep ? v : V8f{};
      store(w.data() + i, v);
      acc += v;
    }
    float block = lane_sum(acc);
    for (; i < end; ++i) {
      const float v = w[i];
      const bool keep = v >= floor && (v > last_weight || (v == last_weight && static_cast<int32_t>(i) <= last_id));
      w[i] = keep ? v : 0.0f;
      block += w[i];
    }
    block_sums->push_back(block);
    total += block;
  }
  return total;
}

}  // namespace llmd::engine
