// The arithmetic of the CUDA backend's q8_0 KV-cache (engine/cuda/kernels/
// kv_q8.hpp), which the store kernel runs per group of 32 with the group's
// largest magnitude from a warp reduction: on the host, rows quantized group
// by group with it equal quantize_row(Q8_0)'s blocks bit for bit (values and
// f16 scales) for random rows, rows with zeros, ties at .5 and equal
// magnitudes; and the block layout gives every value and scale of a block
// one byte range of its own, blocks back to back.
#include "engine/cuda/kernels/kv_q8.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "engine/quant/block_types.hpp"
#include "engine/quant/fp16.hpp"
#include "engine/quant/quantize.hpp"

namespace llmd::engine::cuda {
namespace {

void check_row(const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  std::vector<quant::BlockQ8_0> want(static_cast<size_t>(n / kKvQ8Group));
  ASSERT_TRUE(quant::quantize_row(gguf::GgmlType::Q8_0, x.data(), want.data(), n));
  for (int g = 0; g < n / kKvQ8Group; ++g) {
    float amax = 0.0f;
    for (int j = 0; j < kKvQ8Group; ++j) amax = std::fmax(amax, std::fabs(x[static_cast<size_t>(g * kKvQ8Group + j)]));
    const float d = kv_q8_scale(amax);
    const float inv = kv_q8_inverse(d);
    EXPECT_EQ(quant::f32_to_f16(d), want[static_cast<size_t>(g)].d) << "group " << g;
    for (int j = 0; j < kKvQ8Group; ++j) {
      EXPECT_EQ(kv_q8_value(x[static_cast<size_t>(g * kKvQ8Group + j)], inv), want[static_cast<size_t>(g)].qs[j])
          << "group " << g << " value " << j;
    }
  }
}

TEST(KvQ8, GroupsQuantizeAsTheQ8_0Quantizer) {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int round = 0; round < 200; ++round) {
    std::vector<float> x(128);
    const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
    for (float& v : x) v = scale * normal(rng);
    check_row(x);
  }
  std::vector<float> zeros(64, 0.0f);
  check_row(zeros);
  // A largest magnitude of 127 makes the scale 1: every value at k + 0.5 is
  // a tie, which rounds to even.
  std::vector<float> ties(64);
  for (int i = 0; i < 64; ++i) ties[static_cast<size_t>(i)] = (i % 2 ? -1.0f : 1.0f) * (0.5f + static_cast<float>(i));
  ties[0] = ties[32] = 127.0f;
  check_row(ties);
  std::vector<float> same(32, -3.0f);
  check_row(same);
}

TEST(KvQ8, LayoutGivesEveryValueAndScaleItsOwnBytes) {
  const KvQ8Layout L{2, 4, 64};
  EXPECT_EQ(L.block_bytes(), 2u * 4u * 64u * 17u / 16u);
  EXPECT_EQ(L.block_bytes() % 16, 0u);
  std::set<size_t> seen;
  for (int blk = 0; blk < 3; ++blk) {
    for (int h = 0; h < L.n_head_kv; ++h) {
      for (int s = 0; s < L.block_size; ++s) {
        for (int e = 0; e < L.head_dim; ++e) {
          const size_t at = L.row(blk, h, s) + static_cast<size_t>(e);
          EXPECT_TRUE(seen.insert(at).second);
          EXPECT_LT(at, (static_cast<size_t>(blk) + 1) * L.block_bytes());
        }
        for (int g = 0; g < L.head_dim / kKvQ8Group; ++g) {
          const size_t at = L.scale(blk, h, s, g);
          EXPECT_EQ(at % 2, 0u);
          EXPECT_TRUE(seen.insert(at).second && seen.insert(at + 1).second);
          EXPECT_LT(at + 1, (static_cast<size_t>(blk) + 1) * L.block_bytes());
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), 3 * L.block_bytes());  // nothing left over
  EXPECT_TRUE(L.valid());
  EXPECT_FALSE((KvQ8Layout{1, 1, 32}.valid()));  // 34-byte blocks would misalign the next
  EXPECT_TRUE((KvQ8Layout{8, 16, 128}.valid()));
  EXPECT_TRUE(kv_q8_supported(128));
  EXPECT_FALSE(kv_q8_supported(16));
  EXPECT_FALSE(kv_q8_supported(80));
}

}  // namespace
}  // namespace llmd::engine::cuda
