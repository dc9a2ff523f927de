// Device token selection: argmax against the host, and top-k / full
// sampling frequencies against the analytic distribution (chi-square).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/cuda/kernels/sampling.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::Rng;

TEST(CudaSampling, ArgmaxMatchesHostWithTiesAndNaN) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int rows = 40, vocab = 128256;
  std::vector<float> logits = rng.normal_vec(static_cast<size_t>(rows) * vocab, 3.0f);
  // Row 1: a tie between two maxima (the lower index must win); row 2: NaNs; row 3: all -inf.
  logits[static_cast<size_t>(1) * vocab + 500] = 100.0f;
  logits[static_cast<size_t>(1) * vocab + 70000] = 100.0f;
  logits[static_cast<size_t>(2) * vocab + 3] = NAN;
  logits[static_cast<size_t>(2) * vocab + 9] = 99.0f;
  for (int i = 0; i < vocab; ++i) logits[static_cast<size_t>(3) * vocab + i] = -INFINITY;
  DevArray<float> d_logits(logits);
  DevArray<int32_t> d_ids(rows);
  ASSERT_TRUE(d_logits.ok() && d_ids.ok());
  d_ids.poison();
  CUDA_OK(launch_argmax(d_logits.get(), rows, vocab, d_ids.get(), nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  auto ids = d_ids.download();
  for (int r = 0; r < rows; ++r) {
    const float* row = &logits[static_cast<size_t>(r) * vocab];
    int best = 0;
    for (int i = 1; i < vocab; ++i) {
      if (row[i] > row[best] || std::isnan(row[best])) best = i;
    }
    EXPECT_EQ(ids[r], best) << "row " << r;
  }
  EXPECT_EQ(ids[1], 500);
  EXPECT_EQ(ids[2], 9);
  EXPECT_EQ(ids[3], 0);
}

// Chi-square statistic of observed counts against expected probabilities
// (categories with tiny expectation pooled).
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int n, int* dof) {
  double chi = 0, pooled_e = 0, pooled_o = 0;
  *dof = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    const double e = p[i] * n;
    if (e < 5) {
      pooled_e += e;
      pooled_o += counts[i];
      continue;
    }
    chi += (counts[i] - e) * (counts[i] - e) / e;
    ++*dof;
  }
  if (pooled_e > 0) {
    chi += (pooled_o - pooled_e) * (pooled_o - pooled_e) / std::max(pooled_e, 1e-9);
    ++*dof;
  }
  return chi;
}

void check_distribution(Rng& rng, int vocab, int top_k, float temperature) {
  SCOPED_TRACE("vocab " + std::to_string(vocab) + " top_k " + std::to_string(top_k) + " temperature " +
               std::to_string(temperature));
  const int draws = 20000;
  std::vector<float> row = rng.normal_vec(vocab, 2.0f);
  std::vector<float> logits(static_cast<size_t>(draws) * vocab);
  for (int r = 0; r < draws; ++r) std::copy(row.begin(), row.end(), logits.begin() + static_cast<size_t>(r) * vocab);
  std::vector<uint64_t> seeds(draws);
  const uint64_t base = rng.gen()();
  for (int r = 0; r < draws; ++r) seeds[r] = base + static_cast<uint64_t>(r);
  DevArray<float> d_logits(logits);
  DevArray<uint64_t> d_seeds(seeds);
  DevArray<int32_t> d_ids(draws);
  ASSERT_TRUE(d_logits.ok() && d_seeds.ok() && d_ids.ok());
  d_ids.poison();
  CUDA_OK(launch_sample_topk(d_logits.get(), draws, vocab, top_k, temperature, d_seeds.get(), d_ids.get(), nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  auto ids = d_ids.download();

  // Analytic distribution.
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
  const int k = (top_k <= 0 || top_k >= vocab) ? vocab : top_k;
  std::vector<double> p(vocab, 0.0);
  double total = 0;
  for (int i = 0; i < k; ++i) total += std::exp((row[order[i]] - row[order[0]]) / temperature);
  for (int i = 0; i < k; ++i) p[order[i]] = std::exp((row[order[i]] - row[order[0]]) / temperature) / total;

  std::vector<int> counts(vocab, 0);
  int outside = 0;
  for (int id : ids) {
    ASSERT_GE(id, 0);
    ASSERT_LT(id, vocab);
    ++counts[id];
    if (p[id] == 0.0) ++outside;
  }
  EXPECT_EQ(outside, 0) << "ids outside the top-k";
  int dof = 0;
  const double chi = chi_square(counts, p, draws, &dof);
  // Far tail of the chi-square distribution (about p < 1e-6 for these dof).
  const double limit = dof + 7.0 * std::sqrt(2.0 * std::max(dof, 1)) + 10.0;
  EXPECT_LT(chi, limit) << "chi-square " << chi << " with " << dof << " degrees of freedom";

  // Same seed, same id.
  DevArray<int32_t> d_ids2(draws);
  ASSERT_TRUE(d_ids2.ok());
  CUDA_OK(launch_sample_topk(d_logits.get(), draws, vocab, top_k, temperature, d_seeds.get(), d_ids2.get(), nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  EXPECT_EQ(d_ids2.download(), ids);
}

TEST(CudaSampling, TopKFrequenciesMatchSoftmax) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  check_distribution(rng, 200, 10, 0.7f);
  check_distribution(rng, 1000, 40, 1.5f);
  check_distribution(rng, 64, 1, 1.0f);
}

TEST(CudaSampling, FullVocabularyFrequenciesMatchSoftmax) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  check_distribution(rng, 50, 0, 1.0f);
  check_distribution(rng, 3000, 0, 0.8f);
}

TEST(CudaSampling, RejectsBadArguments) {
  EXPECT_FALSE(sample_topk_supported(kMaxDeviceTopK + 1, 100000));
  EXPECT_TRUE(sample_topk_supported(0, 100000));
  EXPECT_TRUE(sample_topk_supported(100000, 100000));
  EXPECT_FALSE(sample_topk_supported(5, 0));
}

}  // namespace
}  // namespace llmd::engine::cuda
