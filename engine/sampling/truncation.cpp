#include "engine/sampling/truncation.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>

#include "engine/sampling/row_kernels.hpp"

namespace llmd::engine {
namespace {

// Candidate a comes before b: larger weight, then lower id.
bool before(const Candidate& a, const Candidate& b) {
  return a.weight > b.weight || (a.weight == b.weight && a.id < b.id);
}

// The first, optimistic pass of dense top-p: model distributions usually put
// top_p of their mass on a few tokens within log(256) ≈ 5.5 of the best
// tempered logit. It gives up when more than kOptimisticMax tokens qualify.
constexpr float kOptimisticThreshold = 1.0f / 256.0f;
constexpr size_t kOptimisticMax = 1024;

// Radix selection on the float bits of weights in [0, 1], which order them
// like the weights. Level 1 buckets by the top 12 bits (sign 0, 8 exponent
// bits, 4 mantissa bits), level 2 by the next 8, level 3 by the last 11, after
// which a bucket holds equal weights only. Bucket 0 of level 1 holds exactly
// the zeros, since weights are 0 or normal floats.
struct RadixLevel {
  int shift;
  uint32_t mask;
};
constexpr RadixLevel kLevels[] = {{19, 0xFFF}, {11, 0xFF}, {0, 0x7FF}};
constexpr size_t kSmallBucket = 2048;  // below this many tokens, quickselect directly

uint32_t radix_key(float w, const RadixLevel& level) { return (std::bit_cast<uint32_t>(w) >> level.shift) & level.mask; }

// Finds the bucket of `level` where the running weight sum, from the top
// bucket down, reaches *target; keeps only its tokens in *cands and subtracts
// the weight of the buckets above from *target. False (cands untouched) when
// the sum never reaches the target.
bool narrow_to_bucket(std::vector<Candidate>* cands, double* target, const RadixLevel& level,
                      std::vector<double>* hist) {
  hist->assign(size_t{level.mask} + 1, 0.0);
  for (const Candidate& c : *cands) (*hist)[radix_key(c.weight, level)] += c.weight;
  double above = 0.0;
  for (size_t b = hist->size(); b-- > 0;) {
    if ((*hist)[b] > 0.0 && above + (*hist)[b] >= *target) {
      std::erase_if(*cands, [&](const Candidate& c) { return radix_key(c.weight, level) != b; });
      *target -= above;
      return true;
    }
    above += (*hist)[b];
  }
  return false;
}

}  // namespace

void top_k_candidates(std::span<const float> values, int32_t k, std::vector<Candidate>* out) {
  out->clear();
  const size_t n = values.size();
  const size_t keep = k < 0 ? 0 : std::min(n, static_cast<size_t>(k));
  if (keep == 0) return;
  for (size_t i = 0; i < keep; ++i) out->push_back({static_cast<int32_t>(i), values[i]});
  if (keep == n) return;
  // A heap whose front is the worst kept entry. Later ids lose ties, so an
  // entry enters only when its value is strictly greater than the front's.
  std::make_heap(out->begin(), out->end(), before);
  float worst = out->front().weight;
  for (size_t i = find_greater(values, keep, worst); i < n; i = find_greater(values, i + 1, worst)) {
    std::pop_heap(out->begin(), out->end(), before);
    out->back() = {static_cast<int32_t>(i), values[i]};
    std::push_heap(out->begin(), out->end(), before);
    worst = out->front().weight;
  }
}

void sort_candidates(std::vector<Candidate>* cands) { std::sort(cands->begin(), cands->end(), before); }

void keep_top_p_prefix(std::vector<Candidate>* cands, double total, float top_p) {
  const double target = static_cast<double>(top_p) * total;
  double mass = 0.0;
  for (size_t i = 0; i < cands->size(); ++i) {
    mass += (*cands)[i].weight;
    if (mass >= target) {
      cands->resize(i + 1);
      return;
    }
  }
}

Candidate nucleus_end(std::vector<Candidate>* cands, double target) {
  std::vector<Candidate>& c = *cands;
  if (c.empty()) return {-1, 0.0f};
  size_t lo = 0, hi = c.size();
  double mass = 0.0;  // weight of the candidates ordered before c[lo, hi)
  // Quickselect by weight: split the range around a pivot, then continue in
  // the part where the running sum reaches the target. Own partition code, so
  // the arithmetic (and thus the result) is the same with any standard library.
  while (hi - lo > 32) {
    const size_t mid = lo + (hi - lo) / 2;
    // Median of three as pivot, moved to the end of the range.
    if (before(c[mid], c[lo])) std::swap(c[mid], c[lo]);
    if (before(c[hi - 1], c[lo])) std::swap(c[hi - 1], c[lo]);
    if (before(c[mid], c[hi - 1])) std::swap(c[mid], c[hi - 1]);
    const Candidate pivot = c[hi - 1];
    size_t split = lo;
    double head = 0.0;  // weight of the candidates ordered before the pivot
    for (size_t j = lo; j + 1 < hi; ++j) {
      if (before(c[j], pivot)) {
        head += c[j].weight;
        std::swap(c[split++], c[j]);
      }
    }
    std::swap(c[split], c[hi - 1]);  // the pivot between the two parts
    if (mass + head >= target) {
      hi = split;
    } else if (mass + head + pivot.weight >= target) {
      return pivot;
    } else {
      mass += head + pivot.weight;
      lo = split + 1;
    }
  }
  std::sort(c.begin() + static_cast<std::ptrdiff_t>(lo), c.begin() + static_cast<std::ptrdiff_t>(hi), before);
  for (size_t i = lo; i < hi; ++i) {
    mass += c[i].weight;
    if (mass >= target) return c[i];
  }
  // Never reached: the last candidate in order, which ends the range or, when
  // the range is empty, was the last pivot just before it.
  return hi > lo ? c[hi - 1] : c[lo > 0 ? lo - 1 : 0];
}

std::optional<Candidate> top_p_end(std::span<const float> weights, double total, float top_p,
                                   TopPScratch* scratch) {
  double target = static_cast<double>(top_p) * total;
  std::vector<Candidate>& cands = scratch->cands;
  cands.clear();
  scratch->ids.clear();
  if (indices_at_least(weights, kOptimisticThreshold, kOptimisticMax, &scratch->ids) && !scratch->ids.empty()) {
    double mass = 0.0;
    for (const int32_t id : scratch->ids) {
      cands.push_back({id, weights[id]});
      mass += weights[id];
    }
    if (mass >= target) return nucleus_end(&cands, target);
  }

  // Level 1 straight over the row, without listing every token first.
  std::vector<double>& hist = scratch->histogram;
  const RadixLevel& first = kLevels[0];
  hist.assign(size_t{first.mask} + 1, 0.0);
  for (const float w : weights) hist[radix_key(w, first)] += w;
  double above = 0.0;
  size_t b = hist.size() - 1;
  for (; b > 0; --b) {
    if (hist[b] > 0.0 && above + hist[b] >= target) break;  // a bucket with tokens in it
    above += hist[b];
  }
  if (b == 0) return std::nullopt;  // the running sum never reaches the target: keep everything
  target -= above;
  cands.clear();
  for (size_t i = 0; i < weights.size(); ++i)
    if (radix_key(weights[i], first) == b) cands.push_back({static_cast<int32_t>(i), weights[i]});
  for (size_t level = 1; level < std::size(kLevels) && cands.size() > kSmallBucket; ++level)
    if (!narrow_to_bucket(&cands, &target, kLevels[level], &hist)) break;
  if (cands.empty()) return std::nullopt;  // unreachable: bucket b has positive weight
  return nucleus_end(&cands, target);
}

void keep_at_least(std::vector<Candidate>* cands, float min_weight) {
  std::erase_if(*cands, [min_weight](const Candidate& c) { return c.weight < min_weight; });
}

}  // namespace llmd::engine
