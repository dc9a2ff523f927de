#include "engine/sampling/row_kernels.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/sampling/rng.hpp"

namespace llmd::engine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_row(size_t n, uint64_t seed, float lo, float hi) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = lo + static_cast<float>(rng.uniform()) * (hi - lo);
  return v;
}

TEST(ExpNonpositive, RelativeErrorBelow2e7) {
  double worst = 0.0;
  for (double x = -87.0; x <= 0.0; x += 1.0 / 4096.0) {
    const auto xf = static_cast<float>(x);
    const double want = std::exp(static_cast<double>(xf));
    worst = std::max(worst, std::fabs(exp_nonpositive(xf) - want) / want);
  }
  EXPECT_LT(worst, 2e-7);
}

TEST(ExpNonpositive, ExactPointsAndCutoff) {
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-87.01f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-1000.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-kInf), 0.0f);
  EXPECT_EQ(exp_nonpositive(5.0f), 1.0f);  // outside the domain: defined, not UB
  EXPECT_EQ(exp_nonpositive(kInf), 1.0f);
  EXPECT_EQ(exp_nonpositive(std::numeric_limits<float>::quiet_NaN()), 0.0f);
  EXPECT_GT(exp_nonpositive(-87.0f), 0.0f);
  EXPECT_TRUE(std::isnormal(exp_nonpositive(-87.0f)));
}

// The vector kernel must give the scalar function's value bit for bit, on
// whichever instruction set this machine selected, for every row length.
TEST(ExpWeights, BitIdenticalToScalarWithBlockSums) {
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 1023u, 1024u, 1025u, 5003u}) {
    std::vector<float> x = random_row(n, n + 1, -30.0f, 5.0f);
    if (n > 3) x[3] = -kInf;
    const float shift = max_value(x);
    for (const float scale : {1.0f, 1.0f / 0.7f}) {
      for (const float floor : {0.0f, 0.01f}) {
        std::vector<float> w(n, -1.0f);
        std::vector<double> blocks;
        const double total = exp_weights(x, shift, scale, floor, w, &blocks);
        double want_total = 0.0, blocks_total = 0.0;
        for (size_t i = 0; i < n; ++i) {
          float want = exp_nonpositive((x[i] - shift) * scale);
          if (want < floor) want = 0.0f;
          ASSERT_EQ(std::memcmp(&w[i], &want, sizeof want), 0) << "n=" << n << " i=" << i;
          want_total += want;
        }
        for (const double b : blocks) blocks_total += b;
        EXPECT_EQ(blocks.size(), (n + kRowBlock - 1) / kRowBlock);
        EXPECT_EQ(total, blocks_total);
        EXPECT_NEAR(total, want_total, 1e-5 * std::max(1.0, want_total));
        if (floor == 0.0f) {
          EXPECT_EQ(exp_sum(x, shift, scale), total);
        }
      }
    }
  }
}

// The CUDA sampling kernel computes weights with tempered_weight and block
// sums with block_weight_sum (choice_steps.hpp), one block at a time: both
// must equal the vector kernels' values bit for bit, after exp_weights and
// after keep_weights, or the device would draw other tokens.
TEST(ChoiceSteps, ScalarWeightsAndBlockSumsEqualTheVectorKernels) {
  for (size_t n : {1u, 7u, 8u, 127u, 128u, 129u, 1000u, 32000u}) {
    std::vector<float> x = random_row(n, 7 * n + 3, -20.0f, 3.0f);
    if (n > 5) x[5] = -kInf;
    const float max = max_value(x);
    for (const float inv_t : {1.0f, 1.0f / 0.8f, 1.0f / 1.7f}) {
      for (const float floor : {0.0f, 0.05f}) {
        std::vector<float> w(n);
        std::vector<double> blocks;
        const double total = exp_weights(x, max, inv_t, floor, w, &blocks);
        std::vector<float> scalar(n);
        for (size_t i = 0; i < n; ++i) scalar[i] = tempered_weight(x[i], max, inv_t, floor);
        ASSERT_EQ(std::memcmp(scalar.data(), w.data(), n * sizeof(float)), 0) << n;
        double scalar_total = 0.0;
        for (size_t b = 0; b < blocks.size(); ++b) {
          const float sum = block_weight_sum(scalar.data(), b * kRowBlock, std::min(n, (b + 1) * kRowBlock));
          ASSERT_EQ(static_cast<double>(sum), blocks[b]) << "n=" << n << " block " << b;
          scalar_total += sum;
        }
        EXPECT_EQ(scalar_total, total);
        // keep_weights: the survivors' block sums too.
        const Candidate last{static_cast<int32_t>(n / 2), w[n / 2]};
        const double kept_total = keep_weights(w, 0.01f, last.weight, last.id, &blocks);
        double scalar_kept = 0.0;
        for (size_t i = 0; i < n; ++i) {
          const float v = scalar[i];
          const bool keep = v >= 0.01f && (v > last.weight || (v == last.weight && static_cast<int32_t>(i) <= last.id));
          scalar[i] = keep ? v : 0.0f;
        }
        for (size_t b = 0; b < blocks.size(); ++b) {
          const float sum = block_weight_sum(scalar.data(), b * kRowBlock, std::min(n, (b + 1) * kRowBlock));
          ASSERT_EQ(static_cast<double>(sum), blocks[b]) << "kept, n=" << n << " block " << b;
          scalar_kept += sum;
        }
        EXPECT_EQ(scalar_kept, kept_total);
      }
    }
  }
}

TEST(MaxValue, MatchesMaxElement) {
  EXPECT_EQ(max_value({}), -kInf);
  for (size_t n = 1; n < 40; ++n) {
    std::vector<float> x = random_row(n, 100 + n, -5.0f, 5.0f);
    EXPECT_EQ(max_value(x), *std::max_element(x.begin(), x.end())) << n;
    x.back() = 99.0f;
    EXPECT_EQ(max_value(x), 99.0f);
  }
}

TEST(FindAndCollect, MatchScalarScans) {
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 31u, 1000u}) {
    const std::vector<float> x = random_row(n, 200 + n, 0.0f, 1.0f);
    for (const float t : {0.0f, 0.5f, 0.97f, 2.0f}) {
      std::vector<int32_t> at_least;
      for (size_t i = 0; i < n; ++i)
        if (x[i] >= t) at_least.push_back(static_cast<int32_t>(i));
      for (size_t from = 0; from <= n; from += 3) {
        size_t want_ge = n, want_gt = n;
        for (size_t i = n; i-- > from;) {
          if (x[i] >= t) want_ge = i;
          if (x[i] > t) want_gt = i;
        }
        EXPECT_EQ(find_at_least(x, from, t), want_ge) << n << " " << t << " " << from;
        EXPECT_EQ(find_greater(x, from, t), want_gt) << n << " " << t << " " << from;
      }
      std::vector<int32_t> got;
      EXPECT_TRUE(indices_at_least(x, t, n, &got));
      EXPECT_EQ(got, at_least);
      if (at_least.size() > 2) {
        got.clear();
        EXPECT_FALSE(indices_at_least(x, t, 2, &got));
        ASSERT_GE(got.size(), 3u);
        EXPECT_TRUE(std::equal(got.begin(), got.end(), at_least.begin()));
      }
    }
  }
}

TEST(CopySanitized, ReplacesNanAndInfinity) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = random_row(21, 5, -3.0f, 3.0f);
  x[0] = nan;
  x[9] = kInf;
  x[17] = -kInf;
  x[20] = nan;
  std::vector<float> y(x.size());
  copy_sanitized(x, y);
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = i == 0 || i == 20 ? -kInf : i == 9 ? std::numeric_limits<float>::max() : x[i];
    EXPECT_EQ(y[i], want) << i;
  }
}

}  // namespace
}  // namespace llmd::engine
