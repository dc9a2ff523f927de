// CpuKvCache stores: every token's keys land transposed in the K tiles and its
// values by token in the V tiles, for f32 and f16 storage, for head sizes that
// fit the conversion buffer several times, once, and not at all, and heads
// that straddle two conversions.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/cpu/cpu_features.hpp"
#include "engine/cpu/kv_cache.hpp"
#include "engine/quant/fp16.hpp"

namespace llmd::engine::cpu {
namespace {

float stored(const void* tile, KvElem e, int64_t i) {
  if (e == KvElem::f32) return static_cast<const float*>(tile)[i];
  return quant::f16_to_f32(static_cast<const uint16_t*>(tile)[i]);
}

float expected(KvElem e, float x) { return e == KvElem::f32 ? x : quant::f16_to_f32(quant::f32_to_f16(x)); }

TEST(CpuKvCache, WritesLandWhereAttentionReadsThem) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  struct Case {
    int n_head_kv, head_dim;
  };
  for (const Case cs : {Case{4, 8}, Case{8, 128}, Case{3, 1024}, Case{2, 1100}, Case{3, 600}, Case{200, 8}}) {
    for (KvDtype dtype : {KvDtype::f32, KvDtype::f16}) {
      ModelConfig c;
      c.n_layer = 2;
      c.n_head = cs.n_head_kv;
      c.n_head_kv = cs.n_head_kv;
      c.head_dim = cs.head_dim;
      const int bs = 4, n_blocks = 3;
      CpuKvCache kv;
      ASSERT_TRUE(kv.init(c, {.n_blocks = n_blocks, .block_size = bs, .dtype = dtype}).ok());
      const KvElem e = kv.elem();
      const int64_t kvd = c.kv_dim();
      // Every (block, slot, layer) gets its own keys and values.
      std::vector<float> K(static_cast<size_t>(n_blocks * bs * c.n_layer * kvd)), V(K.size());
      for (auto& x : K) x = nd(rng);
      for (auto& x : V) x = nd(rng);
      for (const CpuIsa isa : available_isas()) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " heads " + std::to_string(cs.n_head_kv) + " head_dim " +
                     std::to_string(cs.head_dim) + (dtype == KvDtype::f16 ? " f16" : " f32"));
        auto at = [&](int b, int s, int l) { return static_cast<size_t>(((b * bs + s) * c.n_layer + l) * kvd); };
        for (int b = 0; b < n_blocks; ++b)
          for (int s = 0; s < bs; ++s)
            for (int l = 0; l < c.n_layer; ++l)
              kv.write(b, s, l, K.data() + at(b, s, l), V.data() + at(b, s, l), kernels_for(isa).to_f16);
        for (int b = 0; b < n_blocks; ++b)
          for (int l = 0; l < c.n_layer; ++l)
            for (int h = 0; h < c.n_head_kv; ++h)
              for (int s = 0; s < bs; ++s)
                for (int d = 0; d < c.head_dim; ++d) {
                  const size_t i = at(b, s, l) + static_cast<size_t>(h * c.head_dim + d);
                  ASSERT_EQ(stored(kv.k_tile(b, l, h), e, int64_t{d} * bs + s), expected(e, K[i]));
                  ASSERT_EQ(stored(kv.v_tile(b, l, h), e, int64_t{s} * c.head_dim + d), expected(e, V[i]));
                }
      }
    }
  }
}

}  // namespace
}  // namespace llmd::engine::cpu
