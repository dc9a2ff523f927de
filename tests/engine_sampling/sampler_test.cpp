#include "engine/sampling/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/sampling/rng.hpp"

namespace llmd::engine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_logits(size_t n, uint64_t seed, float spread = 8.0f) {
  Rng rng(seed);
  std::vector<float> l(n);
  for (float& x : l) x = static_cast<float>(rng.uniform()) * spread - spread / 2;
  return l;
}

SamplingParams seeded(uint64_t seed, float temperature = 1.0f) {
  SamplingParams p;
  p.seed = seed;
  p.temperature = temperature;
  return p;
}

std::vector<int32_t> draw_sequence(const SamplingParams& p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(s.sample(logits, {}, ids).id);
  return ids;
}

TEST(SamplerGreedy, PicksArgmaxTiesToLowestId) {
  Sampler s(seeded(1, 0.0f));
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -2.0f, 2.9f}, {}, {}).id, 1);
  EXPECT_EQ(s.sample(std::vector<float>{1.0f, 5.0f, 5.0f, 5.0f}, {}, {}).id, 1);
  const std::vector<float> big = random_logits(128 * 1024 + 3, 9);
  const auto best = std::max_element(big.begin(), big.end()) - big.begin();
  EXPECT_EQ(s.sample(big, {}, {}).id, best);
}

TEST(SamplerGreedy, IgnoresTruncationAndSeed) {
  SamplingParams p = seeded(1, 0.0f);
  p.top_k = 3;
  p.top_p = 0.1f;
  p.min_p = 0.9f;
  const std::vector<float> l = random_logits(1000, 4);
  const std::vector<int32_t> a = draw_sequence(p, l, 5);
  p.seed = 2;
  EXPECT_EQ(draw_sequence(p, l, 5), a);
  EXPECT_EQ(a[0], std::max_element(l.begin(), l.end()) - l.begin());
}

TEST(SamplerGreedy, PenaltiesAndBiasMoveTheArgmax) {
  const std::vector<float> l = {1.0f, 3.0f, 2.5f};
  SamplingParams p = seeded(1, 0.0f);
  p.repetition_penalty = 1.5f;  // 3 / 1.5 = 2 < 2.5
  const std::vector<int32_t> prompt = {1};
  EXPECT_EQ(Sampler(p).sample(l, prompt, {}).id, 2);
  p = seeded(1, 0.0f);
  p.frequency_penalty = 0.3f;  // 3 - 2·0.3 = 2.4 < 2.5
  const std::vector<int32_t> generated = {1, 1};
  EXPECT_EQ(Sampler(p).sample(l, {}, generated).id, 2);
  p = seeded(1, 0.0f);
  p.logit_bias = {{0, 2.5f}};
  EXPECT_EQ(Sampler(p).sample(l, {}, {}).id, 0);
}

TEST(SamplerSeed, SameSeedSameIdsDifferentSeedDifferentIds) {
  const std::vector<float> l = random_logits(8000, 5, 4.0f);
  for (const float t : {1.0f, 0.7f}) {
    SamplingParams p = seeded(2024, t);
    p.top_p = 0.95f;
    p.presence_penalty = 0.5f;
    const std::vector<int32_t> a = draw_sequence(p, l, 200), b = draw_sequence(p, l, 200);
    EXPECT_EQ(a, b);
    p.seed = 2025;
    const std::vector<int32_t> c = draw_sequence(p, l, 200);
    EXPECT_NE(a, c);
    size_t same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == c[i];
    EXPECT_LT(same, 20u);  // independent streams rarely agree on a token
  }
}

TEST(SamplerSeed, NoSeedPicksRandomSeeds) {
  const std::vector<float> l = random_logits(32000, 6, 2.0f);
  Sampler a{SamplingParams{}}, b{SamplingParams{}};
  EXPECT_NE(a.seed(), b.seed());
  SamplingParams replay;
  replay.seed = a.seed();
  Sampler c(replay);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(l, {}, {}).id, c.sample(l, {}, {}).id);
}

// Golden ids: a seed must give these tokens on every build and machine (the
// RNG and the exp kernels are fixed algorithms); changing them breaks the
// reproducibility promised to API users. The ids were cross-checked against an
// independent double-precision implementation of the algorithm documented in
// sampler.hpp (xoshiro256** stream, inverse CDF in the documented order).
TEST(SamplerSeed, GoldenSequence) {
  const std::vector<float> l = random_logits(50000, 7, 10.0f);
  SamplingParams p = seeded(12345, 0.8f);
  EXPECT_EQ(draw_sequence(p, l, 8), (std::vector<int32_t>{37115, 6493, 48202, 2289, 27688, 541, 7852, 14918}));
  p.top_k = 50;
  EXPECT_EQ(draw_sequence(p, l, 8), (std::vector<int32_t>{10119, 14330, 46648, 37496, 44047, 33799, 26327, 39966}));
  p.top_k = 0;
  p.top_p = 0.9f;
  EXPECT_EQ(draw_sequence(p, l, 8), (std::vector<int32_t>{37086, 6495, 48194, 2286, 27676, 550, 7827, 14932}));
}

// log-softmax of the processed logits, in double.
std::vector<double> reference_logprobs(const std::vector<float>& l) {
  const double m = *std::max_element(l.begin(), l.end());
  double s = 0.0;
  for (const float x : l) s += std::exp(x - m);
  std::vector<double> out;
  for (const float x : l) out.push_back(x - m - std::log(s));
  return out;
}

TEST(SamplerLogprobs, LogSoftmaxOfProcessedLogitsSortedTopN) {
  std::vector<float> l = random_logits(70000, 8, 12.0f);
  l[5] = l[6] = 7.5f;  // a tie inside the top list: lower id first
  for (const float t : {0.0f, 0.6f, 1.0f}) {
    SamplingParams p = seeded(3, t);
    p.n_logprobs = 20;
    p.logit_bias = {{100, 30.0f}};
    p.top_p = 0.9f;
    std::vector<float> processed = l;
    processed[100] += 30.0f;
    const std::vector<double> ref = reference_logprobs(processed);
    Sampler s(p);
    for (int i = 0; i < 20; ++i) {
      const SampledToken tok = s.sample(l, {}, {});
      EXPECT_NEAR(tok.logprob, ref[tok.id], 2e-5) << "temperature " << t;
      ASSERT_EQ(tok.top_logprobs.size(), 20u);
      EXPECT_EQ(tok.top_logprobs[0].id, 100);
      for (size_t j = 0; j < tok.top_logprobs.size(); ++j) {
        const TokenLogprob& e = tok.top_logprobs[j];
        EXPECT_NEAR(e.logprob, ref[e.id], 2e-5);
        if (j > 0) {
          const TokenLogprob& prev = tok.top_logprobs[j - 1];
          EXPECT_TRUE(prev.logprob > e.logprob || (prev.logprob == e.logprob && prev.id < e.id));
        }
      }
      const auto it5 = std::find_if(tok.top_logprobs.begin(), tok.top_logprobs.end(),
                                    [](const TokenLogprob& e) { return e.id == 5; });
      ASSERT_NE(it5, tok.top_logprobs.end());
      EXPECT_EQ((it5 + 1)->id, 6);
    }
  }
}

TEST(SamplerLogprobs, ComputedOnlyWhenAsked) {
  const std::vector<float> l = {0.0f, 1.0f, 2.0f};
  SampledToken t = Sampler(seeded(1)).sample(l, {}, {});
  EXPECT_TRUE(std::isnan(t.logprob));
  EXPECT_TRUE(t.top_logprobs.empty());
  SamplingParams p = seeded(1, 0.0f);
  p.logprobs = true;
  t = Sampler(p).sample(l, {}, {});
  EXPECT_EQ(t.id, 2);
  EXPECT_NEAR(t.logprob, reference_logprobs(l)[2], 1e-6);
  EXPECT_TRUE(t.top_logprobs.empty());
  p.n_logprobs = 20;  // more than the vocabulary: all of it
  t = Sampler(p).sample(l, {}, {});
  ASSERT_EQ(t.top_logprobs.size(), 3u);
  EXPECT_EQ(t.top_logprobs[2].id, 0);
}

TEST(SamplerRobustness, NanInfAndEmptyRows) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SamplingParams p = seeded(4, 1.0f);
  p.logprobs = true;
  Sampler s(p);
  const std::vector<float> with_nan = {nan, 0.5f, nan, 0.25f, -kInf};
  for (int i = 0; i < 200; ++i) {
    const SampledToken t = s.sample(with_nan, {}, {});
    EXPECT_TRUE(t.id == 1 || t.id == 3) << t.id;
    EXPECT_TRUE(std::isfinite(t.logprob));
  }
  const std::vector<float> all_impossible = {-kInf, nan, -kInf};
  SampledToken t = s.sample(all_impossible, {}, {});
  EXPECT_EQ(t.id, 0);
  EXPECT_EQ(t.logprob, -kInf);
  const std::vector<float> with_inf = {0.0f, kInf, 1.0f};
  EXPECT_EQ(s.sample(with_inf, {}, {}).id, 1);
  EXPECT_EQ(s.sample(std::span<const float>{}, {}, {}).id, -1);
  // Ids outside the vocabulary in the history are ignored, not read.
  SamplingParams q = seeded(4, 0.0f);
  q.repetition_penalty = 2.0f;
  q.frequency_penalty = 1.0f;
  const std::vector<int32_t> junk = {-5, 3, 1 << 30};
  EXPECT_EQ(Sampler(q).sample(std::vector<float>{1.0f, 2.0f, 0.0f}, junk, junk).id, 1);
}

// Parameters that validate() would reject still give some token in range,
// and nothing undefined (this test is meant for the sanitizer build).
TEST(SamplerRobustness, UnvalidatedParamsStaySafe) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> l = random_logits(3000, 12);
  const std::vector<int32_t> history = {1, 2, 3, 2, 1};
  std::vector<SamplingParams> bad(12, seeded(5));
  bad[0].temperature = nan;
  bad[1].temperature = 1e-45f;  // subnormal: 1/T is infinite
  bad[2].temperature = -1.0f;
  bad[3].temperature = kInf;
  bad[4].top_p = nan;
  bad[5].top_p = -1.0f;
  bad[6].min_p = 5.0f;
  bad[7].min_p = nan;
  bad[8].repetition_penalty = 0.0f;
  bad[9].repetition_penalty = nan;
  bad[10].top_k = -3;
  bad[11].logit_bias = {{-1, 5.0f}, {999999, 1.0f}, {7, kInf}, {8, nan}};
  for (size_t i = 0; i < bad.size(); ++i) {
    bad[i].n_logprobs = 3;
    Sampler s(bad[i]);
    for (int j = 0; j < 5; ++j) {
      const SampledToken t = s.sample(l, history, history);
      EXPECT_GE(t.id, 0) << i;
      EXPECT_LT(t.id, 3000) << i;
    }
  }
}

TEST(SamplerTruncation, SingleSurvivorIsAlwaysDrawn) {
  const std::vector<float> l = random_logits(10000, 10);
  const auto best = std::max_element(l.begin(), l.end()) - l.begin();
  for (int which = 0; which < 3; ++which) {
    SamplingParams p = seeded(static_cast<uint64_t>(which), 1.5f);
    if (which == 0) p.top_k = 1;
    if (which == 1) p.top_p = 1e-6f;
    if (which == 2) p.min_p = 1.0f;
    Sampler s(p);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(l, {}, {}).id, best) << which;
  }
}

}  // namespace
}  // namespace llmd::engine
