// The sequential steps of choosing a token, written once for two callers: the
// host sampler (choose_token in sample_plan.cpp, via truncation.cpp and
// row_kernels.cpp) and the CUDA kernel that samples on the device
// (engine/cuda/kernels/sample_rows.cu). Each step is plain C++17 over raw
// arrays and, compiled by nvcc, a __host__ __device__ function.
//
// Identical bits on both sides: every float product, sum and quotient goes
// through the f* operations below, which round each operation on its own
// (no fused multiply-add: the device uses the _rn intrinsics, the host is
// built with contraction off for this header), sums of many weights are
// taken in the one order written here, and doubles are added in sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__CUDACC__)
#define LLMD_HD __host__ __device__
#else
#define LLMD_HD
#endif

namespace llmd::engine {

// Weights below this argument are 0: exp(-87) is about the smallest normal float.
inline constexpr float kExpCutoff = -87.0f;
// Rows are summed in blocks of this many entries. A draw walks the block sums,
// then one block entry by entry (a chain of dependent additions): 128 keeps
// both walks short for small and large vocabularies.
inline constexpr size_t kRowBlock = 128;
// Within a block, weights are summed in this many interleaved lanes (entry i
// of the block into lane i % kSumLanes, in order), the lanes then added in
// order, then the entries after the last whole group of lanes: the order the
// host's eight-wide vector kernels sum in.
inline constexpr size_t kSumLanes = 8;
// Dense top-p first tries the tokens with at least this weight (model
// distributions usually put top_p of their mass on a few tokens within
// log(256) ≈ 5.5 of the best tempered logit), and gives up on that shortcut
// when more than kTopPShortlistMax tokens qualify (truncation.hpp).
inline constexpr float kTopPShortlistWeight = 1.0f / 256.0f;
inline constexpr size_t kTopPShortlistMax = 1024;

// One token still in play: its id and its weight (an unnormalized
// probability, or a logit straight out of top-k selection).
struct Candidate {
  int32_t id;
  float weight;
};

// How a logit processor changes one logit (logit_processors.hpp builds them).
enum class EditOp : uint8_t {
  repeat,    // repetition penalty v: l > 0 ? l / v : l * v
  subtract,  // presence/frequency penalty: l - v
  add,       // logit bias: l + v
};

struct LogitEdit {
  int32_t id;
  EditOp op;
  float value;
};

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace steps {

LLMD_HD inline float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
LLMD_HD inline float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
LLMD_HD inline float fsub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
LLMD_HD inline float fdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
LLMD_HD inline double dadd(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
LLMD_HD inline double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

}  // namespace steps

// exp(x) for x <= 0 (a logit minus the row's maximum): relative error below
// 2e-7, exactly 1 at 0 and exactly 0 below kExpCutoff (so also for -inf).
// Range reduction x = n·ln2 + r with |r| <= ln2/2, a degree-7 polynomial for
// e^r, and 2^n put together from its exponent bits. Outside the domain it
// stays defined: positive x gives 1, NaN gives 0. The host's vector kernels
// use the same operations in the same order.
LLMD_HD inline float exp_nonpositive(float x) {
  using namespace steps;
  const float xc = x >= kExpCutoff ? (x < 0.0f ? x : 0.0f) : kExpCutoff;  // NaN → cutoff
  // Round x·log2(e) to the nearest integer by adding and removing 1.5·2^23.
  const float n = fsub(fadd(fmul(xc, 1.44269504088896341f), 12582912.0f), 12582912.0f);
  float r = fsub(xc, fmul(n, 0.693145751953125f));  // ln2 split in a high part exact in float ...
  r = fsub(r, fmul(n, 1.428606765330187045e-06f));   // ... and the low rest
  float p = 1.9875691500e-4f;
  p = fadd(fmul(p, r), 1.3981999507e-3f);
  p = fadd(fmul(p, r), 8.3334519073e-3f);
  p = fadd(fmul(p, r), 4.1665795894e-2f);
  p = fadd(fmul(p, r), 1.6666665459e-1f);
  p = fadd(fmul(p, r), 5.0000001201e-1f);
  p = fadd(fadd(fmul(fmul(p, r), r), r), 1.0f);
  const int32_t bits = (static_cast<int32_t>(n) + 127) * (1 << 23);  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x >= kExpCutoff ? fmul(p, scale) : 0.0f;
}

// The weight of a processed logit l: exp((l - max) · inv_t), 0 below floor.
LLMD_HD inline float tempered_weight(float l, float max, float inv_t, float floor) {
  const float e = exp_nonpositive(steps::fmul(steps::fsub(l, max), inv_t));
  return e < floor ? 0.0f : e;
}

// A logit as the sampler sees it: NaN counts as -inf, +inf as the largest float.
LLMD_HD inline float sanitize_logit(float v) {
  constexpr float kMax = std::numeric_limits<float>::max();
  v = v > kMax ? kMax : v;
  return v == v ? v : -std::numeric_limits<float>::infinity();
}

LLMD_HD inline float apply_edit(float l, EditOp op, float v) {
  switch (op) {
    case EditOp::repeat:
      return l > 0.0f ? steps::fdiv(l, v) : steps::fmul(l, v);
    case EditOp::subtract:
      return steps::fsub(l, v);
    case EditOp::add:
      return steps::fadd(l, v);
  }
  return l;
}

// Candidate a comes before b: larger weight, then lower id.
LLMD_HD inline bool ordered_before(const Candidate& a, const Candidate& b) {
  return a.weight > b.weight || (a.weight == b.weight && a.id < b.id);
}

// Sorts c[0, n) into (weight desc, id asc). The order is total (ids differ),
// so any correct sort gives the same result; this one is for short ranges.
LLMD_HD inline void insertion_sort_candidates(Candidate* c, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    const Candidate x = c[i];
    size_t j = i;
    for (; j > 0 && ordered_before(x, c[j - 1]); --j) c[j] = c[j - 1];
    c[j] = x;
  }
}

// The float sum of value(i) for i in [begin, end) in the lane order of
// kSumLanes. begin is a multiple of kSumLanes.
template <typename Value>
LLMD_HD inline float block_sum_of(Value value, size_t begin, size_t end) {
  float lanes[kSumLanes] = {};
  size_t i = begin;
  for (; i + kSumLanes <= end; i += kSumLanes)
    for (size_t l = 0; l < kSumLanes; ++l) lanes[l] = steps::fadd(lanes[l], value(i + l));
  float block = 0.0f;
  for (size_t l = 0; l < kSumLanes; ++l) block = steps::fadd(block, lanes[l]);
  for (; i < end; ++i) block = steps::fadd(block, value(i));
  return block;
}

// The float sum of weights w[begin, end) in the lane order of kSumLanes.
LLMD_HD inline float block_weight_sum(const float* w, size_t begin, size_t end) {
  return block_sum_of([w](size_t i) { return w[i]; }, begin, end);
}

// The last index of [begin, end) with positive weight, or -1.
LLMD_HD inline int32_t last_positive(const float* w, size_t begin, size_t end) {
  for (size_t i = end; i > begin; --i)
    if (w[i - 1] > 0.0f) return static_cast<int32_t>(i - 1);
  return -1;
}

// Inverse-CDF draw over n dense weights in id order, using the per-block sums
// (kRowBlock entries each) to skip to the right block. Rounding between the
// block sums and the running sum can leave the target unreached inside a
// block: the block's last positive weight is then taken.
LLMD_HD inline int32_t draw_dense(const float* w, size_t n, const double* block_sums, size_t n_blocks,
                                  double total, double u) {
  using namespace steps;
  const double target = dmul(u, total);
  double before = 0.0;
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t begin = b * kRowBlock, end = n < begin + kRowBlock ? n : begin + kRowBlock;
    if (dadd(before, block_sums[b]) > target) {
      double running = before;
      for (size_t i = begin; i < end; ++i) {
        running = dadd(running, static_cast<double>(w[i]));
        if (running > target) return static_cast<int32_t>(i);
      }
      const int32_t id = last_positive(w, begin, end);
      if (id >= 0) return id;
    }
    before = dadd(before, block_sums[b]);
  }
  const int32_t id = last_positive(w, 0, n);
  return id >= 0 ? id : 0;
}

// Inverse-CDF draw over the candidates c[0, n) in their order.
LLMD_HD inline int32_t draw_candidates(const Candidate* c, size_t n, double u) {
  using namespace steps;
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total = dadd(total, static_cast<double>(c[i].weight));
  const double target = dmul(u, total);
  double running = 0.0;
  for (size_t i = 0; i < n; ++i) {
    running = dadd(running, static_cast<double>(c[i].weight));
    if (running > target) return c[i].id;
  }
  return n == 0 ? 0 : c[n - 1].id;
}

// c[0, n) sorted: the length of the shortest prefix whose weight sum (in
// double) reaches top_p · total; n when the sum never reaches it.
LLMD_HD inline size_t top_p_prefix(const Candidate* c, size_t n, double total, float top_p) {
  const double target = steps::dmul(static_cast<double>(top_p), total);
  double mass = 0.0;
  for (size_t i = 0; i < n; ++i) {
    mass = steps::dadd(mass, static_cast<double>(c[i].weight));
    if (mass >= target) return i + 1;
  }
  return n;
}

// Drops candidates with weight below min_weight, keeping the order; returns
// how many are left at the front of c.
LLMD_HD inline size_t keep_at_least(Candidate* c, size_t n, float min_weight) {
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i)
    if (!(c[i].weight < min_weight)) c[kept++] = c[i];
  return kept;
}

LLMD_HD inline void swap_candidates(Candidate* a, Candidate* b) {
  const Candidate t = *a;
  *a = *b;
  *b = t;
}

// The candidate at which the running weight sum, in order (weight desc, id
// asc), first reaches target: the last token of the nucleus. The last one in
// that order when the sum never reaches target; {-1, 0} when n is 0.
// Permutes c. A quickselect by weight whose arithmetic (which partial sums
// are added when) is fixed here, so the result is the same on every build and
// on the device.
LLMD_HD inline Candidate nucleus_end(Candidate* c, size_t n, double target) {
  using namespace steps;
  if (n == 0) return {-1, 0.0f};
  size_t lo = 0, hi = n;
  double mass = 0.0;  // weight of the candidates ordered before c[lo, hi)
  while (hi - lo > 32) {
    const size_t mid = lo + (hi - lo) / 2;
    // Median of three as pivot, moved to the end of the range.
    if (ordered_before(c[mid], c[lo])) swap_candidates(&c[mid], &c[lo]);
    if (ordered_before(c[hi - 1], c[lo])) swap_candidates(&c[hi - 1], &c[lo]);
    if (ordered_before(c[mid], c[hi - 1])) swap_candidates(&c[mid], &c[hi - 1]);
    const Candidate pivot = c[hi - 1];
    size_t split = lo;
    double head = 0.0;  // weight of the candidates ordered before the pivot
    for (size_t j = lo; j + 1 < hi; ++j) {
      if (ordered_before(c[j], pivot)) {
        head = dadd(head, static_cast<double>(c[j].weight));
        swap_candidates(&c[split++], &c[j]);
      }
    }
    swap_candidates(&c[split], &c[hi - 1]);  // the pivot between the two parts
    if (dadd(mass, head) >= target) {
      hi = split;
    } else if (dadd(dadd(mass, head), static_cast<double>(pivot.weight)) >= target) {
      return pivot;
    } else {
      mass = dadd(mass, dadd(head, static_cast<double>(pivot.weight)));
      lo = split + 1;
    }
  }
  insertion_sort_candidates(c + lo, hi - lo);
  for (size_t i = lo; i < hi; ++i) {
    mass = dadd(mass, static_cast<double>(c[i].weight));
    if (mass >= target) return c[i];
  }
  // Never reached: the last candidate in order, which ends the range or, when
  // the range is empty, was the last pivot just before it.
  return hi > lo ? c[hi - 1] : c[lo > 0 ? lo - 1 : 0];
}

#if defined(__clang__)
#pragma STDC FP_CONTRACT DEFAULT
#elif defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC pop_options
#endif

}  // namespace llmd::engine
