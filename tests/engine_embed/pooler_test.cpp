// engine::Pooler on hand-made hidden states: each pooling type against a
// direct computation, whatever the chunking; positions recomputed after a
// preemption counted once; what each pooling asks the backend for; Matryoshka
// truncation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/embed/pooler.hpp"

namespace llmd::engine {
namespace {

constexpr int32_t E = 4;

// Row p of a text: (p + 1, -p, 0.5, p * p).
std::vector<float> rows(int32_t first, int32_t n) {
  std::vector<float> v;
  for (int32_t p = first; p < first + n; ++p) {
    v.insert(v.end(), {static_cast<float>(p + 1), static_cast<float>(-p), 0.5f, static_cast<float>(p * p)});
  }
  return v;
}

std::vector<double> unit(std::vector<double> v) {
  double n = 0;
  for (double x : v) n += x * x;
  for (double& x : v) x /= std::sqrt(n);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

// Feeds a text of `len` positions in chunks of `chunk`, as the scheduler does.
std::vector<float> pool(PoolingType type, int32_t len, int32_t chunk) {
  Pooler p(type, E, len);
  for (int32_t pos = 0; pos < len; pos += chunk) {
    const int32_t n = std::min(chunk, len - pos);
    const LogitsMode mode = p.mode_for_chunk(pos, n);
    if (mode == LogitsMode::embed_all) p.add(pos, n, mode, rows(pos, n));
    if (mode == LogitsMode::embed_last) p.add(pos, n, mode, rows(pos + n - 1, 1));
  }
  EXPECT_TRUE(p.complete());
  return p.finish();
}

TEST(Pooler, EachTypeWhateverTheChunks) {
  const int32_t len = 7;
  std::vector<double> mean(E, 0.0);
  for (int32_t p = 0; p < len; ++p) {
    const auto r = rows(p, 1);
    for (int j = 0; j < E; ++j) mean[static_cast<size_t>(j)] += r[static_cast<size_t>(j)] / len;
  }
  const auto first = rows(0, 1), last = rows(len - 1, 1);
  for (int32_t chunk : {1, 3, 7}) {
    SCOPED_TRACE(chunk);
    expect_near(pool(PoolingType::mean, len, chunk), unit(mean));
    expect_near(pool(PoolingType::cls, len, chunk), unit({first.begin(), first.end()}));
    expect_near(pool(PoolingType::last, len, chunk), unit({last.begin(), last.end()}));
  }
}

TEST(Pooler, AsksOnlyForTheRowsItNeeds) {
  Pooler mean(PoolingType::mean, E, 10), cls(PoolingType::cls, E, 10), last(PoolingType::last, E, 10);
  EXPECT_EQ(mean.mode_for_chunk(0, 4), LogitsMode::embed_all);
  EXPECT_EQ(cls.mode_for_chunk(0, 4), LogitsMode::embed_all);
  EXPECT_EQ(cls.mode_for_chunk(4, 4), LogitsMode::none);
  EXPECT_EQ(last.mode_for_chunk(0, 4), LogitsMode::none);
  EXPECT_EQ(last.mode_for_chunk(4, 6), LogitsMode::embed_last);
  EXPECT_FALSE(last.complete());
}

TEST(Pooler, RecomputedPositionsCountOnce) {
  // Positions 0..5 pooled, then a preemption: the text is computed again
  // from position 4 (a prefix-cache hit) or from 0.
  for (int32_t restart : {0, 4}) {
    Pooler p(PoolingType::mean, E, 8);
    p.add(0, 6, LogitsMode::embed_all, rows(0, 6));
    EXPECT_FALSE(p.complete());
    EXPECT_EQ(p.mode_for_chunk(restart, 2), restart + 2 > 6 ? LogitsMode::embed_all : LogitsMode::none);
    p.add(restart, 8 - restart, LogitsMode::embed_all, rows(restart, 8 - restart));
    ASSERT_TRUE(p.complete());
    expect_near(p.finish(), [] {
      std::vector<double> m(E, 0.0);
      for (int32_t q = 0; q < 8; ++q) {
        const auto r = rows(q, 1);
        for (int j = 0; j < E; ++j) m[static_cast<size_t>(j)] += r[static_cast<size_t>(j)] / 8;
      }
      return unit(m);
    }());
  }
}

TEST(Pooler, TruncationRenormalises) {
  const std::vector<float> v = {0.6f, 0.0f, 0.8f, 0.0f};
  const std::vector<float> t = truncate_embedding(v, 1);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_FLOAT_EQ(t[0], 1.0f);
  const std::vector<float> t3 = truncate_embedding(v, 3);
  expect_near(t3, {0.6, 0.0, 0.8});
  const std::vector<float> zero = truncate_embedding(std::vector<float>{0.0f, 0.0f}, 2);
  EXPECT_EQ(zero, (std::vector<float>{0.0f, 0.0f})) << "a zero vector stays zero, never NaN";
}

}  // namespace
}  // namespace llmd::engine
