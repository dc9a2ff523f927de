#include "engine/sampling/truncation.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>

#include "engine/sampling/row_kernels.hpp"

namespace llmd::engine {
namespace {

bool before(const Candidate& a, const Candidate& b) { return ordered_before(a, b); }

// The first, optimistic pass of dense top-p (choice_steps.hpp).
constexpr float kOptimisticThreshold = kTopPShortlistWeight;
constexpr size_t kOptimisticMax = kTopPShortlistMax;

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
  cands->resize(top_p_prefix(cands->data(), cands->size(), total, top_p));
}

Candidate nucleus_end(std::vector<Candidate>* cands, double target) {
  return nucleus_end(cands->data(), cands->size(), target);
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
  cands->resize(keep_at_least(cands->data(), cands->size(), min_weight));
}

}  // namespace llmd::engine
