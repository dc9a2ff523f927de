// The device sampling kernel's algorithm (sample_rows.hpp) for one plan,
// written against a thread-block policy B so the same source runs in the
// CUDA kernel (sample_rows.cu: B = the real block) and on the host in a test
// (B = threads with barriers), which checks it against choose_token in CI.
//
// B provides: kThreads (a multiple of 32); tid(); sync() (a barrier of the
// whole block, making earlier writes to shared and global memory visible);
// shfl_xor(v, o) (the value of lane ^ o of the caller's warp; every lane of
// the warp calls it); atomic_add(int*, v) on shared memory.
//
// The parallel passes (sanitize, mask and max, the argmax, the radix
// selection of top-k, the tempered weights with their block sums, the top-p
// shortlist) are exact: maxima, integer counts and per-block sums in the
// fixed lane order. Every order-dependent sum and every draw runs on thread 0
// with the sequential steps of choice_steps.hpp, as on the host.
#pragma once

#include <cmath>
#include <cstring>

#include "engine/cuda/kernels/sample_rows_types.hpp"

#if defined(__CUDACC__)
#define LLMD_BLOCK_FN __device__
#define LLMD_BLOCK_NOINLINE __noinline__
#else
#define LLMD_BLOCK_FN
#define LLMD_BLOCK_NOINLINE
#endif

namespace llmd::engine::cuda {

// The block's shared memory.
template <typename B>
struct SampleShared {
  double block_sums[kSampleMaxBlocks];
  Candidate cands[kTopPShortlistMax];
  int counts[B::kThreads];
  int hist[256];
  float red_f[B::kThreads / 32];
  int red_i[B::kThreads / 32];
  // Thread 0's decisions, read by every thread after a barrier.
  uint32_t prefix;
  int remaining;
  int total_count;
  int done;  // 1: the host finishes this plan
  Candidate last;
  double lse;  // log Σ exp of the processed logits
};

LLMD_BLOCK_FN inline int imin(int a, int b) { return a < b ? a : b; }

// A key whose unsigned order is the float order (-0 and +0 equal, so ties
// between them go to the lower id as on the host).
LLMD_BLOCK_FN inline uint32_t order_key(float v) {
  if (v == 0.0f) v = 0.0f;
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// op over every thread's v, returned to every thread; red holds kWarps
// partial results.
template <typename B, typename T, typename Op>
LLMD_BLOCK_FN T block_reduce(const B& blk, T v, Op op, T* red) {
  const int lane = blk.tid() & 31, warp = blk.tid() >> 5;
  for (int o = 16; o > 0; o >>= 1) v = op(v, blk.shfl_xor(v, o));
  if (lane == 0) red[warp] = v;
  blk.sync();
  T r = red[0];
  for (int w = 1; w < B::kThreads / 32; ++w) r = op(r, red[w]);
  blk.sync();
  return r;
}

template <typename B>
LLMD_BLOCK_FN float block_max(const B& blk, float v, SampleShared<B>& s) {
  return block_reduce(blk, v, [](float a, float b) { return b > a ? b : a; }, s.red_f);
}

template <typename B>
LLMD_BLOCK_FN int block_min(const B& blk, int v, SampleShared<B>& s) {
  return block_reduce(blk, v, [](int a, int b) { return b < a ? b : a; }, s.red_i);
}

// Writes the indices i of [0, n) with pred(i), in index order, as candidates
// {i, vals[i]} to out[offset + rank] for rank < limit. Each thread scans one
// contiguous chunk; an exclusive scan of the chunk counts gives the ranks.
// Returns the number of matches (every thread).
template <typename B, typename Pred>
LLMD_BLOCK_FN int ordered_select(const B& blk, int n, Pred pred, const float* vals, Candidate* out, int offset,
                                 int limit, SampleShared<B>& s) {
  constexpr int kThreads = B::kThreads;
  const int chunk = (n + kThreads - 1) / kThreads;
  const int begin = imin(n, blk.tid() * chunk), end = imin(n, begin + chunk);
  int count = 0;
  for (int i = begin; i < end; ++i) count += pred(i) ? 1 : 0;
  s.counts[blk.tid()] = count;
  blk.sync();
  if (blk.tid() == 0) {
    int sum = 0;
    for (int t = 0; t < kThreads; ++t) {
      const int c = s.counts[t];
      s.counts[t] = sum;
      sum += c;
    }
    s.total_count = sum;
  }
  blk.sync();
  int rank = s.counts[blk.tid()];
  for (int i = begin; i < end && rank < limit; ++i) {
    if (pred(i)) out[offset + rank++] = Candidate{i, vals[i]};
  }
  const int total = s.total_count;
  blk.sync();
  return total;
}

// The key of the k-th largest value of w[0, n) (1 <= k <= n) by radix
// selection over 8-bit digits; *equal_needed: how many values equal to it
// are among the k largest.
template <typename B>
LLMD_BLOCK_FN uint32_t kth_largest_key(const B& blk, const float* w, int n, int k, int* equal_needed,
                                      SampleShared<B>& s) {
  constexpr int kThreads = B::kThreads;
  uint32_t prefix = 0, mask = 0;
  int remaining = k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = blk.tid(); b < 256; b += kThreads) s.hist[b] = 0;
    blk.sync();
    for (int i = blk.tid(); i < n; i += kThreads) {
      const uint32_t key = order_key(w[i]);
      if ((key & mask) == prefix) blk.atomic_add(&s.hist[(key >> shift) & 0xFFu], 1);
    }
    blk.sync();
    if (blk.tid() == 0) {
      int above = 0;
      for (int b = 255; b >= 0; --b) {
        if (above + s.hist[b] >= remaining) {
          s.prefix = prefix | (static_cast<uint32_t>(b) << shift);
          s.remaining = remaining - above;
          break;
        }
        above += s.hist[b];
      }
    }
    blk.sync();
    prefix = s.prefix;
    remaining = s.remaining;
    mask |= 0xFFu << shift;
    blk.sync();
  }
  *equal_needed = remaining;
  return prefix;
}

// Tempered weights in place over w[0, n) (floor as in tempered_weight) and
// each block's sum into s.block_sums; one thread per block of kRowBlock.
template <typename B>
LLMD_BLOCK_FN void weigh_blocks(const B& blk, float* w, int n, float max, float inv_t, float floor,
                                SampleShared<B>& s) {
  constexpr int kThreads = B::kThreads;
  const int n_blocks = (n + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock);
  for (int b = blk.tid(); b < n_blocks; b += kThreads) {
    const size_t begin = static_cast<size_t>(b) * kRowBlock;
    const size_t end = begin + kRowBlock < static_cast<size_t>(n) ? begin + kRowBlock : static_cast<size_t>(n);
    for (size_t i = begin; i < end; ++i) w[i] = tempered_weight(w[i], max, inv_t, floor);
    s.block_sums[b] = static_cast<double>(block_weight_sum(w, begin, end));
  }
  blk.sync();
}

// keep_weights of the host: zero the weights below floor or ordered after
// `last`, and refresh the block sums.
template <typename B>
LLMD_BLOCK_FN void keep_blocks(const B& blk, float* w, int n, float floor, Candidate last, SampleShared<B>& s) {
  constexpr int kThreads = B::kThreads;
  const int n_blocks = (n + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock);
  for (int b = blk.tid(); b < n_blocks; b += kThreads) {
    const size_t begin = static_cast<size_t>(b) * kRowBlock;
    const size_t end = begin + kRowBlock < static_cast<size_t>(n) ? begin + kRowBlock : static_cast<size_t>(n);
    for (size_t i = begin; i < end; ++i) {
      const float v = w[i];
      const bool keep = v >= floor && (v > last.weight || (v == last.weight && static_cast<int32_t>(i) <= last.id));
      w[i] = keep ? v : 0.0f;
    }
    s.block_sums[b] = static_cast<double>(block_weight_sum(w, begin, end));
  }
  blk.sync();
}

// Σ of the block sums in order, in double (thread 0 only).
template <typename B>
LLMD_BLOCK_FN double sum_blocks(int n, const SampleShared<B>& s) {
  const int n_blocks = (n + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock);
  double total = 0.0;
  for (int b = 0; b < n_blocks; ++b) total = steps::dadd(total, s.block_sums[b]);
  return total;
}

// The k largest values of w[0, n) (1 <= k <= n; ties to the lower id) as
// candidates {id, value} in s.cands[0, k), in no particular order.
template <typename B>
LLMD_BLOCK_FN void top_k_in_block(const B& blk, const float* w, int n, int k, SampleShared<B>& s) {
  int equal_needed = 0;
  const uint32_t t = kth_largest_key(blk, w, n, k, &equal_needed, s);
  const int greater = k - equal_needed;
  ordered_select(blk, n, [&](int i) { return order_key(w[i]) > t; }, w, s.cands, 0, greater, s);
  ordered_select(blk, n, [&](int i) { return order_key(w[i]) == t; }, w, s.cands, greater, equal_needed, s);
}

// The token `plan` chooses from the processed logits w[0, n) whose largest
// value is max (finite): steps 2-5 of choose_token. Every thread calls it;
// the result is meaningful on thread 0. May overwrite w with weights.
struct Choice {
  int32_t id = -1;
  SampleStatus status = SampleStatus::done;
};

template <typename B>
LLMD_BLOCK_FN LLMD_BLOCK_NOINLINE Choice choose_in_block(const B& blk, const DeviceSamplePlan& plan, float* w, int n,
                                                     float max, SampleShared<B>& s) {
  constexpr int kThreads = B::kThreads;
  Choice r;
  if (plan.greedy) {  // 2. the first id with the largest logit
    int first = n;
    for (int i = blk.tid(); i < n; i += kThreads)
      if (w[i] >= max) {
        first = i;
        break;
      }
    r.id = block_min(blk, first, s);
    return r;
  }

  const bool use_top_p = plan.top_p < 1.0f;
  if (plan.top_k > 0 && plan.top_k < n) {
    // 3-4, top-k: the k largest logits (ties to the lower id), then the
    // candidate steps on thread 0.
    const int k = plan.top_k;
    top_k_in_block(blk, w, n, k, s);
    if (blk.tid() == 0) {
      Candidate* c = s.cands;
      size_t kept = static_cast<size_t>(k);
      for (size_t j = 0; j < kept; ++j) c[j].weight = tempered_weight(c[j].weight, max, plan.inv_t, 0.0f);
      insertion_sort_candidates(c, kept);
      if (use_top_p) {
        double total = 0.0;
        for (size_t j = 0; j < kept; ++j) total = steps::dadd(total, static_cast<double>(c[j].weight));
        kept = top_p_prefix(c, kept, total, plan.top_p);
      }
      if (plan.min_p > 0.0f) kept = keep_at_least(c, kept, plan.min_p);
      r.id = draw_candidates(c, kept, plan.u);
    }
    return r;
  }

  // 3-5, dense: weights over the whole vocabulary, drawn in id order.
  weigh_blocks(blk, w, n, max, plan.inv_t, use_top_p ? 0.0f : plan.min_p, s);
  const auto n_blocks = static_cast<size_t>((n + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock));
  if (!use_top_p) {
    if (blk.tid() == 0) r.id = draw_dense(w, static_cast<size_t>(n), s.block_sums, n_blocks, sum_blocks(n, s), plan.u);
    return r;
  }
  // Top-p through the shortlist: the tokens of weight ≥ kTopPShortlistWeight
  // in id order; the host takes over when they are too many, none, or do not
  // reach the target.
  const int listed = ordered_select(
      blk, n, [&](int i) { return w[i] >= kTopPShortlistWeight; }, w, s.cands, 0, static_cast<int>(kTopPShortlistMax), s);
  if (listed == 0 || listed > static_cast<int>(kTopPShortlistMax)) {
    r.status = SampleStatus::host;
    return r;
  }
  if (blk.tid() == 0) {
    const double target = steps::dmul(static_cast<double>(plan.top_p), sum_blocks(n, s));
    double mass = 0.0;
    for (int j = 0; j < listed; ++j) mass = steps::dadd(mass, static_cast<double>(s.cands[j].weight));
    s.done = mass >= target ? 0 : 1;
    if (!s.done) s.last = nucleus_end(s.cands, static_cast<size_t>(listed), target);
  }
  blk.sync();
  if (s.done) {
    r.status = SampleStatus::host;
    return r;
  }
  keep_blocks(blk, w, n, plan.min_p, s.last, s);
  if (blk.tid() == 0) r.id = draw_dense(w, static_cast<size_t>(n), s.block_sums, n_blocks, sum_blocks(n, s), plan.u);
  return r;
}

// log Σ exp(w[i]) over the processed logits (max finite) into s.lse, and the
// n_top largest logits (ties to the lower id) with their log-probabilities
// into out: what log_sum_exp and top_logprobs give on the host.
template <typename B>
LLMD_BLOCK_FN LLMD_BLOCK_NOINLINE void logprobs_in_block(const B& blk, const float* w, int n, float max, int n_top,
                                                      DeviceSampleResult* out, SampleShared<B>& s) {
  constexpr int kThreads = B::kThreads;
  if (max != -INFINITY) {
    const int n_blocks = (n + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock);
    for (int b = blk.tid(); b < n_blocks; b += kThreads) {
      const size_t begin = static_cast<size_t>(b) * kRowBlock;
      const size_t end = begin + kRowBlock < static_cast<size_t>(n) ? begin + kRowBlock : static_cast<size_t>(n);
      s.block_sums[b] = static_cast<double>(
          block_sum_of([&](size_t i) { return tempered_weight(w[i], max, 1.0f, 0.0f); }, begin, end));
    }
    blk.sync();
    if (blk.tid() == 0) s.lse = static_cast<double>(max) + ::log(sum_blocks(n, s));
  } else if (blk.tid() == 0) {
    s.lse = 0.0;
  }
  const int k = imin(n_top, n);
  if (k > 0) top_k_in_block(blk, w, n, k, s);
  if (blk.tid() == 0) {
    insertion_sort_candidates(s.cands, static_cast<size_t>(k));
    for (int j = 0; j < k; ++j)
      out->top[j] = DeviceTokenLogprob{s.cands[j].id, static_cast<float>(static_cast<double>(s.cands[j].weight) - s.lse)};
    out->n_top = k;
  }
  blk.sync();
}

// Token id's processed logit, from its raw value: sanitized, its edits in
// order, the mask (thread 0; for the chosen token's log-probability once w
// holds weights).
LLMD_BLOCK_FN inline float processed_logit(const float* src, int id, const DeviceSamplePlan& plan, const LogitEdit* edits,
                                 const uint64_t* masks) {
  float v = sanitize_logit(src[id]);
  for (int e = 0; e < plan.edit_count; ++e) {
    const LogitEdit ed = edits[plan.edit_begin + e];
    if (ed.id == id) v = apply_edit(v, ed.op, ed.value);
  }
  if (plan.mask_begin >= 0) {
    const int word = id >> 6;
    const uint64_t bits = word < plan.mask_words ? masks[plan.mask_begin + word] : 0;
    if (!((bits >> (id & 63)) & 1u)) v = -INFINITY;
  }
  return v;
}

// The token plans[block] chooses into results[block] (every thread of the
// block calls it; s is the block's shared memory; work holds one row of
// vocab floats per block).
template <typename B>
LLMD_BLOCK_FN void sample_row_in_block(const B& blk, int block, const float* logits, int vocab,
                                       const DeviceSamplePlan* plans, const LogitEdit* edits, const uint64_t* masks,
                                       float* work, DeviceSampleResult* results, SampleShared<B>& s) {
  const DeviceSamplePlan plan = plans[block];
  const int n = vocab;
  const float* src = logits + static_cast<size_t>(plan.row) * static_cast<size_t>(n);
  float* w = work + static_cast<size_t>(block) * static_cast<size_t>(n);
  DeviceSampleResult* out = results + block;

  // 0-1. Sanitize, then the edits in order (thread 0), then the mask with the max.
  for (int i = blk.tid(); i < n; i += B::kThreads) w[i] = sanitize_logit(src[i]);
  blk.sync();
  if (blk.tid() == 0) {
    for (int e = 0; e < plan.edit_count; ++e) {
      const LogitEdit ed = edits[plan.edit_begin + e];
      w[ed.id] = apply_edit(w[ed.id], ed.op, ed.value);
    }
  }
  blk.sync();
  float local_max = -INFINITY;
  for (int i = blk.tid(); i < n; i += B::kThreads) {
    float v = w[i];
    if (plan.mask_begin >= 0) {
      const int word = i >> 6;
      const uint64_t bits = word < plan.mask_words ? masks[plan.mask_begin + word] : 0;
      if (!((bits >> (i & 63)) & 1u)) {
        v = -INFINITY;
        w[i] = v;
      }
    }
    local_max = v > local_max ? v : local_max;
  }
  blk.sync();
  const float max = block_max(blk, local_max, s);

  if (plan.logprobs) logprobs_in_block(blk, w, n, max, plan.n_logprobs, out, s);
  Choice r;
  if (max == -INFINITY) {  // every token impossible
    r.id = 0;
  } else {
    r = choose_in_block(blk, plan, w, n, max, s);
  }
  if (blk.tid() == 0) {
    out->id = r.id;
    out->status = r.status;
    if (plan.logprobs && r.status == SampleStatus::done) {
      out->logprob = max == -INFINITY ? -INFINITY
                                      : static_cast<float>(
                                            static_cast<double>(processed_logit(src, r.id, plan, edits, masks)) - s.lse);
    }
  }
}

}  // namespace llmd::engine::cuda

#undef LLMD_BLOCK_FN
#undef LLMD_BLOCK_NOINLINE
