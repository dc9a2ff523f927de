// The sampler's draws follow the analytic distribution: 10^4 draws per case,
// Pearson's chi-square at significance 0.001 against probabilities computed
// here in double precision from the definitions in sampler.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "engine/sampling/rng.hpp"
#include "engine/sampling/sampler.hpp"
#include "tests/engine_sampling/chi_square.hpp"

namespace llmd::engine {
namespace {

constexpr int kDraws = 10000;

struct Case {
  const char* name;
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
};

// softmax(l / T) restricted by top-k, then top-p (renormalized), then min-p,
// renormalized. With check_margins it asserts that no top-p or min-p boundary
// lies within 1e-3 of a cumulative sum or a ratio, so float rounding in the
// sampler cannot move it.
std::vector<double> expected_probs(const std::vector<float>& logits, const Case& c, bool check_margins = true) {
  const size_t n = logits.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  if (c.top_k > 0 && static_cast<size_t>(c.top_k) < n) order.resize(static_cast<size_t>(c.top_k));
  const double best = logits[order[0]];
  std::vector<double> p(n, 0.0);
  double total = 0.0;
  for (const size_t i : order) total += p[i] = std::exp((logits[i] - best) / c.temperature);
  if (c.top_p < 1.0f) {
    double mass = 0.0;
    size_t keep = 0;
    while (keep < order.size()) {
      mass += p[order[keep++]] / total;
      if (check_margins) {
        EXPECT_GT(std::fabs(mass - c.top_p), 1e-3) << c.name << ": top_p boundary too close";
      }
      if (mass >= c.top_p) break;
    }
    for (size_t j = keep; j < order.size(); ++j) p[order[j]] = 0.0;
    order.resize(keep);
  }
  if (c.min_p > 0.0f) {
    for (const size_t i : order) {
      if (check_margins) {
        EXPECT_GT(std::fabs(p[i] - c.min_p), 1e-3) << c.name << ": min_p boundary too close";
      }
      if (p[i] < c.min_p) p[i] = 0.0;
    }
  }
  const double kept = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) x /= kept;
  return p;
}

std::vector<int64_t> draw_counts(const std::vector<float>& logits, const Case& c, uint64_t seed) {
  SamplingParams params;
  params.temperature = c.temperature;
  params.top_k = c.top_k;
  params.top_p = c.top_p;
  params.min_p = c.min_p;
  params.seed = seed;
  Sampler sampler(params);
  std::vector<int64_t> counts(logits.size(), 0);
  for (int i = 0; i < kDraws; ++i) {
    const int32_t id = sampler.sample(logits, {}, {}).id;
    EXPECT_GE(id, 0);
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) return counts;
    ++counts[static_cast<size_t>(id)];
  }
  return counts;
}

void expect_fits(const std::vector<int64_t>& counts, const std::vector<double>& probs, const std::string& what) {
  const test::ChiSquare x = test::chi_square(counts, probs);
  EXPECT_EQ(x.impossible, 0) << what << ": drew tokens the distribution excludes";
  EXPECT_GE(x.min_expected, 5.0) << what << ": too few draws per category for the test";
  EXPECT_LT(x.statistic, x.critical()) << what << ": chi-square " << x.statistic << " with " << x.df << " df";
}

// Eight hand-made logits with distinct values and no boundary near any cut.
const std::vector<float> kLogits = {1.0f, 2.5f, 0.3f, -0.7f, 1.8f, 0.0f, -2.0f, 2.2f};

const Case kCases[] = {
    {"temperature_1", 1.0f, 0, 1.0f, 0.0f},
    {"temperature_0_5", 0.5f, 0, 1.0f, 0.0f},
    {"temperature_1_7", 1.7f, 0, 1.0f, 0.0f},
    {"top_k_3", 1.0f, 3, 1.0f, 0.0f},
    {"top_k_5_t0_8", 0.8f, 5, 1.0f, 0.0f},
    {"top_p_0_8", 1.0f, 0, 0.8f, 0.0f},
    {"top_p_0_6_t1_3", 1.3f, 0, 0.6f, 0.0f},
    {"min_p_0_2", 1.0f, 0, 1.0f, 0.2f},
    {"min_p_0_1_t0_7", 0.7f, 0, 1.0f, 0.1f},
    {"top_k_6_top_p_0_9_min_p_0_05_t0_9", 0.9f, 6, 0.9f, 0.05f},
    {"top_k_4_top_p_0_75_t1_5", 1.5f, 4, 0.75f, 0.0f},
    {"top_p_0_9_min_p_0_3_t2", 2.0f, 0, 0.9f, 0.3f},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SamplerDistribution : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerDistribution, MatchesAnalytic) {
  const Case& c = GetParam();
  const std::vector<double> probs = expected_probs(kLogits, c);
  expect_fits(draw_counts(kLogits, c, 1234), probs, c.name);
}

INSTANTIATE_TEST_SUITE_P(Cases, SamplerDistribution, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The test has power: the same draws are rejected against a neighbouring
// distribution (another temperature, another top-k).
TEST(SamplerDistributionPower, RejectsWrongDistributions) {
  const Case t08{"t0_8", 0.8f, 0, 1.0f, 0.0f}, t1{"t1", 1.0f, 0, 1.0f, 0.0f};
  const test::ChiSquare wrong_t = test::chi_square(draw_counts(kLogits, t08, 99), expected_probs(kLogits, t1));
  EXPECT_GT(wrong_t.statistic, wrong_t.critical());
  const Case k3{"k3", 1.0f, 3, 1.0f, 0.0f}, k4{"k4", 1.0f, 4, 1.0f, 0.0f};
  const test::ChiSquare wrong_k = test::chi_square(draw_counts(kLogits, k4, 99), expected_probs(kLogits, k3));
  EXPECT_TRUE(wrong_k.impossible > 0 || wrong_k.statistic > wrong_k.critical());
}

// Vocabularies spanning several row blocks, with lengths that are not a
// multiple of the vector width: tokens are grouped into bins so every bin
// expects enough draws.
std::vector<float> big_logits(size_t n, uint64_t seed, float spread) {
  Rng rng(seed);
  std::vector<float> l(n);
  for (float& x : l) x = static_cast<float>(rng.uniform()) * spread;
  return l;
}

// Binned by rank of probability into bins of about equal mass.
// The top-p cut of a large vocabulary falls between near-equal weights, where
// float rounding in the sampler may keep a token or two more or fewer than the
// double-precision reference: the few tokens ranked right after the cut join
// the last bin; every token beyond them must never be drawn.
void expect_binned_fit(const std::vector<float>& logits, const Case& c, size_t bins) {
  const std::vector<double> p = expected_probs(logits, c, /*check_margins=*/false);
  const std::vector<int64_t> counts = draw_counts(logits, c, 77);
  std::vector<size_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return p[a] > p[b] || (p[a] == p[b] && logits[a] > logits[b]);
  });
  const size_t kept = static_cast<size_t>(std::count_if(p.begin(), p.end(), [](double x) { return x > 0.0; }));
  const size_t slack = c.top_p < 1.0f ? 3 : 0;
  std::vector<int64_t> bin_counts(bins + 1, 0);
  std::vector<double> bin_probs(bins + 1, 0.0);
  double mass = 0.0;  // probability of the tokens ranked before r
  for (size_t r = 0; r < order.size(); ++r) {
    const size_t in_mass = std::min(bins - 1, static_cast<size_t>(mass * static_cast<double>(bins)));
    const size_t b = r < kept ? in_mass : r < kept + slack ? bins - 1 : bins;  // bin `bins`: excluded
    bin_counts[b] += counts[order[r]];
    bin_probs[b] += p[order[r]];
    mass += p[order[r]];
  }
  expect_fits(bin_counts, bin_probs, c.name);
}

TEST(SamplerDistributionLarge, DenseTemperature) {
  expect_binned_fit(big_logits(5003, 1, 6.0f), {"dense_t0_8", 0.8f, 0, 1.0f, 0.0f}, 20);
  expect_binned_fit(big_logits(4099, 2, 3.0f), {"dense_t1", 1.0f, 0, 1.0f, 0.0f}, 20);
}

TEST(SamplerDistributionLarge, TopK) {
  expect_binned_fit(big_logits(1503, 3, 8.0f), {"top_k_40_t1_2", 1.2f, 40, 1.0f, 0.0f}, 40);
}

TEST(SamplerDistributionLarge, MinP) {
  std::vector<float> l = big_logits(5003, 4, 2.0f);
  for (size_t i = 17; i < l.size(); i += 331) l[i] += 6.0f;  // 16 strong tokens
  expect_binned_fit(l, {"min_p_0_05", 1.0f, 0, 1.0f, 0.05f}, 15);
}

TEST(SamplerDistributionLarge, TopPWithFatTail) {
  // 20 strong tokens hold too little mass for top_p: the optimistic threshold
  // falls short and most of the tail enters the nucleus.
  std::vector<float> l = big_logits(1500, 5, 1.0f);
  for (float& x : l) x -= 2.5f;
  for (size_t i = 3; i < l.size(); i += 75) l[i] = 3.0f;
  expect_binned_fit(l, {"top_p_0_5_fat_tail", 1.0f, 0, 0.5f, 0.0f}, 30);
  expect_binned_fit(l, {"top_p_0_95_fat_tail_t0_7", 0.7f, 0, 0.95f, 0.0f}, 30);
}

}  // namespace
}  // namespace llmd::engine
