// Pearson's chi-square goodness-of-fit test for the sampler's distribution tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmd::test {

// Upper critical values of the chi-square distribution at significance 0.001
// for 1..60 degrees of freedom (a correct sampler fails a test 1 time in 1000
// seeds; with the fixed seeds used here the tests are deterministic).
inline double chi_square_critical_0001(size_t df) {
  static constexpr double kTable[] = {
      10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
      31.264, 32.909, 34.528, 36.123, 37.697, 39.252, 40.790, 42.312, 43.820, 45.315,
      46.797, 48.268, 49.728, 51.179, 52.620, 54.052, 55.476, 56.892, 58.301, 59.703,
      61.098, 62.487, 63.870, 65.247, 66.619, 67.985, 69.346, 70.703, 72.055, 73.402,
      74.745, 76.084, 77.419, 78.750, 80.077, 81.400, 82.720, 84.037, 85.351, 86.661,
      87.968, 89.272, 90.573, 91.872, 93.168, 94.461, 95.751, 97.039, 98.324, 99.607,
  };
  return df >= 1 && df <= 60 ? kTable[df - 1] : 0.0;
}

struct ChiSquare {
  double statistic = 0.0;
  size_t df = 0;            // categories compared (after pooling), minus 1
  int64_t impossible = 0;   // draws that fell on categories of probability 0
  double min_expected = 0;  // smallest expected count (the test is sound when ≥ 5)
  double critical() const { return chi_square_critical_0001(df); }
  bool passes() const { return impossible == 0 && df > 0 && statistic < critical(); }
};

// counts[i] observed draws of category i, probs[i] its expected probability.
// Categories expecting fewer than 5 draws are pooled into one (joined to the
// smallest other category if the pool still expects fewer than 5), the usual
// condition for the chi-square approximation to hold.
inline ChiSquare chi_square(const std::vector<int64_t>& counts, const std::vector<double>& probs) {
  ChiSquare r;
  int64_t n = 0;
  for (const int64_t c : counts) n += c;
  std::vector<double> expected;
  std::vector<int64_t> observed;
  double pool_expected = 0.0;
  int64_t pool_observed = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] <= 0.0) {
      r.impossible += counts[i];
      continue;
    }
    const double e = probs[i] * static_cast<double>(n);
    if (e < 5.0) {
      pool_expected += e;
      pool_observed += counts[i];
    } else {
      expected.push_back(e);
      observed.push_back(counts[i]);
    }
  }
  if (pool_expected > 0.0) {
    if (pool_expected >= 5.0 || expected.empty()) {
      expected.push_back(pool_expected);
      observed.push_back(pool_observed);
    } else {
      const size_t smallest = static_cast<size_t>(std::min_element(expected.begin(), expected.end()) - expected.begin());
      expected[smallest] += pool_expected;
      observed[smallest] += pool_observed;
    }
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const double d = static_cast<double>(observed[i]) - expected[i];
    r.statistic += d * d / expected[i];
    if (i == 0 || expected[i] < r.min_expected) r.min_expected = expected[i];
  }
  r.df = expected.empty() ? 0 : expected.size() - 1;
  return r;
}

}  // namespace llmd::test
