#include "engine/sampling/truncation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/sampling/rng.hpp"

namespace llmd::engine {
namespace {

bool before(const Candidate& a, const Candidate& b) {
  return a.weight > b.weight || (a.weight == b.weight && a.id < b.id);
}

std::vector<int32_t> ids_of(const std::vector<Candidate>& c) {
  std::vector<int32_t> ids;
  for (const Candidate& x : c) ids.push_back(x.id);
  return ids;
}

// Brute force: every token sorted, then the shortest prefix reaching
// top_p · total; ids returned in id order, zero weights dropped.
std::vector<int32_t> reference_top_p(const std::vector<float>& w, double total, float top_p) {
  std::vector<Candidate> all;
  for (size_t i = 0; i < w.size(); ++i) all.push_back({static_cast<int32_t>(i), w[i]});
  std::sort(all.begin(), all.end(), before);
  const double target = static_cast<double>(top_p) * total;
  double mass = 0.0;
  std::vector<int32_t> ids;
  for (const Candidate& c : all) {
    if (c.weight > 0.0f) ids.push_back(c.id);
    mass += c.weight;
    if (mass >= target) break;
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(TopK, MatchesFullSortWithTiesToLowerId) {
  Rng rng(3);
  for (int round = 0; round < 20; ++round) {
    const size_t n = 1 + rng.next() % 3000;
    std::vector<float> v(n);
    // Few distinct values, so ties are everywhere.
    for (float& x : v) x = static_cast<float>(rng.next() % 23) - 11.0f;
    for (const size_t k : {size_t{1}, size_t{5}, n / 2, n - 1, n, n + 7}) {
      std::vector<Candidate> got;
      top_k_candidates(v, static_cast<int32_t>(k), &got);
      sort_candidates(&got);
      std::vector<Candidate> all;
      for (size_t i = 0; i < n; ++i) all.push_back({static_cast<int32_t>(i), v[i]});
      std::sort(all.begin(), all.end(), before);
      all.resize(std::min(k, n));
      EXPECT_EQ(ids_of(got), ids_of(all)) << "n=" << n << " k=" << k;
    }
  }
  std::vector<Candidate> none;
  top_k_candidates(std::vector<float>{1.0f, 2.0f}, 0, &none);
  EXPECT_TRUE(none.empty());
}

TEST(TopP, PrefixOfSortedCandidates) {
  std::vector<Candidate> c = {{4, 0.5f}, {1, 0.25f}, {0, 0.125f}, {3, 0.125f}};
  keep_top_p_prefix(&c, 1.0, 0.7f);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{4, 1}));
  c = {{4, 0.5f}, {1, 0.25f}};
  keep_top_p_prefix(&c, 1.0, 0.75f);  // reached exactly: the token that reaches it stays
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{4, 1}));
}

// Dense top-p, on both of its paths (the optimistic threshold for peaked
// rows, the weight histogram for flat and fat-tailed ones), keeps exactly the
// brute-force nucleus.
TEST(TopP, DenseMatchesBruteForce) {
  Rng rng(11);
  TopPScratch scratch;
  for (int round = 0; round < 80; ++round) {
    const size_t n = 1 + rng.next() % 6000;
    const int shape = round % 4;
    std::vector<float> w(n);
    for (size_t i = 0; i < n; ++i) {
      const double u = rng.uniform();
      switch (shape) {
        case 0: w[i] = static_cast<float>(std::exp(-30.0 * u)); break;            // peaked
        case 1: w[i] = static_cast<float>(0.9 + 0.1 * u); break;                  // flat
        case 2: w[i] = u < 0.002 ? 1.0f : static_cast<float>(1e-3 * u); break;    // fat tail
        default: w[i] = u < 0.3 ? 0.0f : static_cast<float>(std::exp(-8.0 * u));  // zeros
      }
    }
    w[rng.next() % n] = 1.0f;  // the best token has weight exactly 1, as in the sampler
    double total = 0.0;
    for (const float x : w) total += x;
    for (const float top_p : {0.05f, 0.5f, 0.9f, 0.99f, 0.9999f}) {
      const std::optional<Candidate> end = top_p_end(w, total, top_p, &scratch);
      std::vector<int32_t> got;
      for (size_t i = 0; i < n; ++i) {
        const Candidate c{static_cast<int32_t>(i), w[i]};
        if (w[i] > 0.0f && (!end || !before(*end, c))) got.push_back(c.id);
      }
      EXPECT_EQ(got, reference_top_p(w, total, top_p)) << "round " << round << " n=" << n << " top_p=" << top_p;
    }
  }
}

// The quickselect finds the same last nucleus token as a sorted running sum.
TEST(TopP, NucleusEndMatchesSortedScan) {
  Rng rng(5);
  for (int round = 0; round < 200; ++round) {
    const size_t n = 1 + rng.next() % 2000;
    std::vector<Candidate> c(n);
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
      // Quantized weights: many ties, broken by id.
      c[i] = {static_cast<int32_t>(i), static_cast<float>(1 + rng.next() % 50) / 64.0f};
      total += c[i].weight;
    }
    const double target = rng.uniform() * total * 1.02;  // sometimes unreachable
    std::vector<Candidate> sorted = c;
    std::sort(sorted.begin(), sorted.end(), before);
    Candidate want = sorted.back();
    double mass = 0.0;
    for (const Candidate& x : sorted) {
      mass += x.weight;
      if (mass >= target) {
        want = x;
        break;
      }
    }
    std::vector<Candidate> work = c;
    const Candidate got = nucleus_end(&work, target);
    EXPECT_EQ(got.id, want.id) << "round " << round << " n=" << n;
  }
}

// Out-of-range top_p (which validate() rejects) must not read outside the
// candidates: the nucleus is then the best token alone, or every token.
TEST(TopP, OutOfRangeTopPIsSafe) {
  TopPScratch scratch;
  std::vector<float> flat(3000, 0.5f);
  flat[1234] = 1.0f;
  const double total = 0.5 * 2999 + 1.0;
  for (const float top_p : {-1.0f, 0.0f}) {
    const std::optional<Candidate> end = top_p_end(flat, total, top_p, &scratch);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->id, 1234);
  }
  EXPECT_FALSE(top_p_end(flat, total, 2.0f, &scratch).has_value());
  std::vector<Candidate> none;
  EXPECT_EQ(nucleus_end(&none, 1.0).id, -1);
}

TEST(MinP, KeepsOrderDropsBelow) {
  std::vector<Candidate> c = {{0, 1.0f}, {7, 0.05f}, {2, 0.2f}, {5, 0.1f}};
  keep_at_least(&c, 0.1f);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 2, 5}));
}

}  // namespace
}  // namespace llmd::engine
