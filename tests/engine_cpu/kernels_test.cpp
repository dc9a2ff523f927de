// CPU kernels of every variant this machine runs, on odd shapes: GEMM over
// each packed format against a float64 dot product of the dequantized weights
// (rows not a multiple of 16, every column-tile remainder), results that do
// not depend on how rows and columns are split, and paged attention against a
// naive softmax attention over shuffled blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/cpu/cpu_features.hpp"
#include "engine/cpu/packed_matrix.hpp"
#include "engine/quant/dequantize.hpp"
#include "engine/quant/fp16.hpp"
#include "engine/quant/quantize.hpp"

namespace llmd::engine::cpu {
namespace {

using gguf::GgmlType;

struct Quantized {
  std::vector<uint8_t> bytes;
  std::vector<float> dequant;  // [rows][cols]
  WeightView view;
};

Quantized make_weights(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  Quantized q;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const uint64_t rb = *gguf::ggml_row_bytes(type, static_cast<uint64_t>(cols));
  q.bytes.resize(rb * static_cast<uint64_t>(rows));
  q.dequant.resize(static_cast<size_t>(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = nd(rng) * (1.0f + static_cast<float>(r % 3));
    EXPECT_TRUE(quant::quantize_row(type, row.data(), q.bytes.data() + rb * static_cast<uint64_t>(r), cols));
    EXPECT_TRUE(quant::dequantize_row(type, q.bytes.data() + rb * static_cast<uint64_t>(r),
                                      q.dequant.data() + r * cols, cols));
  }
  q.view.name = "w";
  q.view.type = type;
  q.view.rows = rows;
  q.view.cols = cols;
  q.view.row_bytes = rb;
  q.view.data = q.bytes.data();
  return q;
}

struct Acts {
  std::vector<float> x;
  std::vector<int8_t> q, r;
  std::vector<float> d, qsum;
  std::vector<int32_t> c16, c32;
  ActQ8 a;
};

Acts make_acts(const KernelTable& k, int64_t n, int64_t cols, uint32_t seed) {
  Acts A;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  A.x.resize(static_cast<size_t>(n * cols));
  for (auto& v : A.x) v = nd(rng) * (rng() % 7 == 0 ? 20.0f : 1.0f);  // some outliers
  if (cols % 32 == 0) {
    A.q.resize(A.x.size());
    A.r.resize(A.x.size());
    A.d.resize(static_cast<size_t>(n * cols / 32));
    A.qsum.resize(A.d.size());
    A.c32.resize(A.d.size());
    A.c16.resize(static_cast<size_t>(n * cols / 16));
    for (int64_t i = 0; i < n; ++i)
      k.quantize_row(A.x.data() + i * cols, cols, A.q.data() + i * cols, A.r.data() + i * cols,
                     A.d.data() + i * cols / 32, A.c16.data() + i * cols / 16, A.c32.data() + i * cols / 32,
                     A.qsum.data() + i * cols / 32);
    A.a = {n, cols, A.q.data(), A.r.data(), A.d.data(), A.c16.data(), A.c32.data(), A.qsum.data(), cols, cols / 32,
           cols / 16, cols / 32};
  }
  return A;
}

// y[c][r] over the given ranges.
void gemm(const KernelTable& k, const PackedMatrix& m, const Acts& A, int64_t cols, int64_t g0, int64_t g1,
          int64_t c0, int64_t c1, std::vector<float>& y, bool accumulate = false) {
  GemmTask t;
  t.w = &m.view();
  t.g0 = g0;
  t.g1 = g1;
  t.c0 = c0;
  t.c1 = c1;
  t.x = A.x.data();
  t.x_stride = cols;
  t.xq = &A.a;
  t.y = y.data();
  t.y_stride = m.rows();
  t.accumulate = accumulate;
  k.gemm(t);
}

class Gemm : public ::testing::TestWithParam<GgmlType> {};

TEST_P(Gemm, MatchesFloat64AndIgnoresSplits) {
  const GgmlType type = GetParam();
  const int64_t cols = quant::block_elems(type) == 256 ? 512 : (type == GgmlType::Q8_0 || type == GgmlType::Q4_0 ? 96 : 37);
  const int64_t rows = 45;  // two full row groups and a partial one
  const int64_t n = 13;     // every column-tile remainder
  Quantized w = make_weights(type, rows, cols, 17);
  const WeightView* parts[] = {&w.view};
  auto packed = PackedMatrix::pack(parts, nullptr);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  const bool is_float = type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16;
  for (CpuIsa isa : available_isas()) {
    SCOPED_TRACE(isa_name(isa));
    const KernelTable& k = kernels_for(isa);
    const Acts A = make_acts(k, n, cols, 5);
    std::vector<float> y(static_cast<size_t>(n * rows), NAN);
    gemm(k, *packed, A, cols, 0, packed->view().groups, 0, n, y);
    double err = 0, norm = 0;
    for (int64_t c = 0; c < n; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        double want = 0;
        for (int64_t i = 0; i < cols; ++i)
          want += static_cast<double>(w.dequant[static_cast<size_t>(r * cols + i)]) * A.x[static_cast<size_t>(c * cols + i)];
        const double got = y[static_cast<size_t>(c * rows + r)];
        err += (got - want) * (got - want);
        norm += want * want;
      }
    }
    EXPECT_LE(std::sqrt(err / norm), is_float ? 1e-6 : 1e-4);
    // Any split of rows and columns gives the same bits.
    std::vector<float> y2(y.size(), NAN);
    for (int64_t c = 0; c < n; c += 3)
      for (int64_t g = 0; g < packed->view().groups; ++g) gemm(k, *packed, A, cols, g, g + 1, c, std::min(n, c + 3), y2);
    EXPECT_EQ(y, y2);
    std::vector<float> y3(y.size(), NAN);
    for (int64_t c = 0; c < n; ++c) gemm(k, *packed, A, cols, 0, packed->view().groups, c, c + 1, y3);
    EXPECT_EQ(y, y3);
    // Accumulate adds to what is there.
    std::vector<float> y4(y.size(), 1.5f);
    gemm(k, *packed, A, cols, 0, packed->view().groups, 0, n, y4, true);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y4[i], y[i] + 1.5f) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, Gemm,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0,
                                           GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(gguf::ggml_type_name(info.param)); });

TEST(Gemm, StacksPartsOfOneFormat) {
  // q4_0 and q4_K share the packed nibble format: stacked, each part keeps its values.
  Quantized a = make_weights(GgmlType::Q4_0, 20, 256, 1), b = make_weights(GgmlType::Q4_K, 13, 256, 2);
  const WeightView* parts[] = {&a.view, &b.view};
  auto packed = PackedMatrix::pack(parts, nullptr);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  EXPECT_EQ(packed->rows(), 33);
  const KernelTable& k = default_kernels();
  const Acts A = make_acts(k, 1, 256, 9);
  std::vector<float> y(33);
  gemm(k, *packed, A, 256, 0, packed->view().groups, 0, 1, y);
  double err = 0, norm = 0;
  for (int64_t r = 0; r < 33; ++r) {
    const std::vector<float>& w = r < 20 ? a.dequant : b.dequant;
    const int64_t row = r < 20 ? r : r - 20;
    double want = 0;
    for (int64_t i = 0; i < 256; ++i) want += static_cast<double>(w[static_cast<size_t>(row * 256 + i)]) * A.x[static_cast<size_t>(i)];
    err += (y[static_cast<size_t>(r)] - want) * (y[static_cast<size_t>(r)] - want);
    norm += want * want;
  }
  EXPECT_LE(std::sqrt(err / norm), 1e-4);
  Quantized c = make_weights(GgmlType::Q6_K, 4, 256, 3), d = make_weights(GgmlType::Q4_K, 4, 256, 4);
  const WeightView* mixed[] = {&c.view, &d.view};
  EXPECT_FALSE(PackedMatrix::pack(mixed, nullptr).ok());
}

// Naive attention of g heads over keys [0, n) with K, V given densely.
std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& K, const std::vector<float>& V,
                                    int g, int hd, int n, float scale) {
  std::vector<double> out(static_cast<size_t>(g * hd), 0.0);
  for (int h = 0; h < g; ++h) {
    std::vector<double> s(static_cast<size_t>(n));
    double mx = -1e300;
    for (int j = 0; j < n; ++j) {
      double dot = 0;
      for (int d = 0; d < hd; ++d) dot += static_cast<double>(q[static_cast<size_t>(h * hd + d)]) * K[static_cast<size_t>(j * hd + d)];
      s[static_cast<size_t>(j)] = dot * scale;
      mx = std::max(mx, s[static_cast<size_t>(j)]);
    }
    double sum = 0;
    for (auto& v : s) sum += (v = std::exp(v - mx));
    for (int j = 0; j < n; ++j)
      for (int d = 0; d < hd; ++d)
        out[static_cast<size_t>(h * hd + d)] += s[static_cast<size_t>(j)] / sum * V[static_cast<size_t>(j * hd + d)];
  }
  return out;
}

TEST(Attention, MatchesNaiveOverShuffledBlocks) {
  std::mt19937 rng(23);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  struct Case {
    int g, hd, n, bs;
  };
  const Case cases[] = {{1, 8, 1, 16},   {8, 64, 37, 16}, {4, 128, 100, 32}, {7, 40, 19, 8},  {3, 24, 50, 5},
                        {16, 8, 17, 16}, {2, 8, 100, 16}, {2, 8, 7, 8},      {4, 8, 33, 32},  {2, 8, 23, 5},
                        {5, 16, 40, 16}, {6, 8, 65, 16},  {9, 64, 30, 16},   {2, 64, 131, 16}, {3, 8, 40, 16},
                        {2, 8, 45, 32},  {1, 8, 16, 16},  {2, 8, 64, 16}};
  for (const Case& cs : cases) {
    for (KvElem elem : {KvElem::f32, KvElem::f16}) {
      const int n_blocks = (cs.n + cs.bs - 1) / cs.bs;
      std::vector<float> q(static_cast<size_t>(cs.g * cs.hd)), K(static_cast<size_t>(cs.n * cs.hd)),
          V(static_cast<size_t>(cs.n * cs.hd));
      for (auto& v : q) v = nd(rng);
      for (auto& v : K) v = nd(rng);
      for (auto& v : V) v = nd(rng);
      if (elem == KvElem::f16) {  // compare against what the cache holds
        for (auto& v : K) v = quant::f16_to_f32(quant::f32_to_f16(v));
        for (auto& v : V) v = quant::f16_to_f32(quant::f32_to_f16(v));
      }
      // Tiles in a shuffled pool, poisoned past the valid keys.
      const size_t elt = elem == KvElem::f32 ? 4 : 2;
      const size_t tile = static_cast<size_t>(cs.hd * cs.bs) * elt;
      // The f16 runs pass tables that point one tile pair early and a
      // tile_offset that makes up for it (as the backend does for later layers).
      const int64_t tile_offset = elem == KvElem::f16 ? static_cast<int64_t>(2 * tile) : 0;
      std::vector<uint8_t> pool(static_cast<size_t>(2 * n_blocks + 4) * 2 * tile, 0xff);
      std::vector<int> slot(static_cast<size_t>(2 * n_blocks + 3));
      std::iota(slot.begin(), slot.end(), 0);
      std::shuffle(slot.begin(), slot.end(), rng);
      std::vector<const void*> kt, vt;
      auto put = [&](uint8_t* base, size_t idx, float v) {
        if (elem == KvElem::f32) std::memcpy(base + idx * 4, &v, 4);
        else {
          const uint16_t h = quant::f32_to_f16(v);
          std::memcpy(base + idx * 2, &h, 2);
        }
      };
      for (int b = 0; b < n_blocks; ++b) {
        uint8_t* kb = pool.data() + static_cast<size_t>(slot[static_cast<size_t>(b)] + 1) * 2 * tile;
        uint8_t* vb = kb + tile;
        for (int s = 0; s < cs.bs && b * cs.bs + s < cs.n; ++s) {
          const int j = b * cs.bs + s;
          for (int d = 0; d < cs.hd; ++d) {
            put(kb, static_cast<size_t>(d * cs.bs + s), K[static_cast<size_t>(j * cs.hd + d)]);
            put(vb, static_cast<size_t>(s * cs.hd + d), V[static_cast<size_t>(j * cs.hd + d)]);
          }
        }
        kt.push_back(kb - tile_offset);
        vt.push_back(vb - tile_offset);
      }
      const float scale = 1.0f / std::sqrt(static_cast<float>(cs.hd));
      const auto want = naive_attention(q, K, V, cs.g, cs.hd, cs.n, scale);
      for (CpuIsa isa : available_isas()) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " g=" + std::to_string(cs.g) + " hd=" + std::to_string(cs.hd) +
                     " n=" + std::to_string(cs.n) + " bs=" + std::to_string(cs.bs));
        std::vector<float> scratch(static_cast<size_t>(cs.g * n_blocks * cs.bs + cs.g * cs.hd + 64));
        std::vector<float> out(static_cast<size_t>(cs.g * cs.hd), NAN);
        AttnTask t;
        t.q = q.data();
        t.g = cs.g;
        t.head_dim = cs.hd;
        t.n_keys = cs.n;
        t.block_size = cs.bs;
        t.elem = elem;
        t.k_tiles = kt.data();
        t.v_tiles = vt.data();
        t.tile_offset = tile_offset;
        t.scale = scale;
        t.scratch = scratch.data();
        t.out = out.data();
        kernels_for(isa).attention(t);
        for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want[i], 2e-5) << i;
      }
    }
  }
}

TEST(Conversion, ToF16RoundsLikeTheReference) {
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, 1e9f, -1e9f, 6.1e-5f, 5.96e-8f,
                          2.98e-8f, 1e-10f, 1.0f + 1.0f / 2048.0f, 1.0f + 3.0f / 2048.0f, 3.14159265f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> bits;
  while (x.size() < 1000) {
    uint32_t u = bits(rng);
    if ((u & 0x7f800000u) == 0x7f800000u) continue;  // NaN payloads are not compared
    float f;
    std::memcpy(&f, &u, 4);
    x.push_back(f);
  }
  for (CpuIsa isa : available_isas()) {
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{16}, int64_t{17}, static_cast<int64_t>(x.size())}) {
      std::vector<uint16_t> y(static_cast<size_t>(n) + 1, 0xabcd);
      kernels_for(isa).to_f16(x.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(y[static_cast<size_t>(i)], quant::f32_to_f16(x[static_cast<size_t>(i)])) << isa_name(isa) << " " << x[static_cast<size_t>(i)];
      EXPECT_EQ(y[static_cast<size_t>(n)], 0xabcd) << "wrote past the end";
    }
  }
}

TEST(Activation, SiluMulMatchesDefinition) {
  std::vector<float> g(37), u(37), out(37);
  for (int i = 0; i < 37; ++i) {
    g[static_cast<size_t>(i)] = static_cast<float>(i - 18) * 0.7f;
    u[static_cast<size_t>(i)] = 1.0f + 0.1f * static_cast<float>(i);
  }
  g[0] = -100.0f;
  g[1] = 100.0f;
  for (CpuIsa isa : available_isas()) {
    kernels_for(isa).silu_mul(g.data(), u.data(), out.data(), 37);
    for (size_t i = 0; i < 37; ++i) {
      const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      EXPECT_NEAR(out[i], want, 1e-6 * std::max(1.0, std::fabs(want))) << isa_name(isa) << " " << i;
    }
  }
}

TEST(Normalization, RmsNormMatchesFloat64) {
  std::mt19937 rng(31);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  for (int n : {1, 7, 8, 15, 16, 17, 64, 100, 2048}) {
    std::vector<float> x(static_cast<size_t>(n)), w(x.size());
    for (auto& v : x) v = nd(rng);
    for (auto& v : w) v = 1.0f + 0.1f * nd(rng);
    double ss = 0.0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
    for (CpuIsa isa : available_isas()) {
      std::vector<float> y(x.size() + 1, NAN);  // one more: nothing written past the row
      kernels_for(isa).rms_norm(x.data(), w.data(), y.data(), n, 1e-5f);
      for (size_t i = 0; i < x.size(); ++i) {
        const double want = x[i] * inv * w[i];
        ASSERT_NEAR(y[i], want, 1e-5 * std::max(1.0, std::fabs(want))) << isa_name(isa) << " n=" << n << " " << i;
      }
      EXPECT_TRUE(std::isnan(y.back())) << isa_name(isa) << " n=" << n;
    }
  }
}

TEST(PositionEncoding, RopeMatchesFloat64ForBothPairings) {
  std::mt19937 rng(37);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  struct Case {
    int head_dim, n_rot, n_heads;
  };
  for (const Case cs : {Case{8, 8, 12}, Case{64, 64, 3}, Case{128, 128, 2}, Case{80, 80, 2}, Case{64, 32, 3},
                        Case{80, 24, 2}, Case{8, 2, 2}, Case{48, 48, 1}}) {
    for (bool adjacent : {true, false}) {
      const int half = cs.n_rot / 2;
      const double pos = 37.0;
      std::vector<double> angle(static_cast<size_t>(half));
      for (int i = 0; i < half; ++i) angle[static_cast<size_t>(i)] = pos * std::pow(10000.0, -2.0 * i / cs.n_rot);
      std::vector<float> c2(static_cast<size_t>(cs.n_rot)), s2(c2.size());
      for (int i = 0; i < half; ++i) {
        const int first = adjacent ? 2 * i : i, second = adjacent ? 2 * i + 1 : i + half;
        c2[static_cast<size_t>(first)] = c2[static_cast<size_t>(second)] = static_cast<float>(std::cos(angle[static_cast<size_t>(i)]));
        s2[static_cast<size_t>(first)] = -static_cast<float>(std::sin(angle[static_cast<size_t>(i)]));
        s2[static_cast<size_t>(second)] = static_cast<float>(std::sin(angle[static_cast<size_t>(i)]));
      }
      std::vector<float> x(static_cast<size_t>(cs.n_heads * cs.head_dim + 1));
      for (auto& v : x) v = nd(rng);
      for (CpuIsa isa : available_isas()) {
        SCOPED_TRACE(std::string(isa_name(isa)) + (adjacent ? " adjacent" : " halves") + " head_dim " +
                     std::to_string(cs.head_dim) + " n_rot " + std::to_string(cs.n_rot));
        std::vector<float> y = x;
        kernels_for(isa).rope(y.data(), cs.n_heads, cs.head_dim, cs.n_rot, c2.data(), s2.data(), adjacent);
        for (int h = 0; h < cs.n_heads; ++h) {
          const float* in = x.data() + h * cs.head_dim;
          const float* out = y.data() + h * cs.head_dim;
          for (int i = 0; i < half; ++i) {
            const int a = adjacent ? 2 * i : i, b = adjacent ? 2 * i + 1 : i + half;
            const double c = std::cos(angle[static_cast<size_t>(i)]), sn = std::sin(angle[static_cast<size_t>(i)]);
            ASSERT_NEAR(out[a], in[a] * c - in[b] * sn, 1e-5) << "head " << h << " pair " << i;
            ASSERT_NEAR(out[b], in[a] * sn + in[b] * c, 1e-5) << "head " << h << " pair " << i;
          }
          for (int i = cs.n_rot; i < cs.head_dim; ++i) ASSERT_EQ(out[i], in[i]) << "head " << h << " dim " << i;
        }
        EXPECT_EQ(y.back(), x.back());  // nothing past the last head
      }
    }
  }
}

}  // namespace
}  // namespace llmd::engine::cpu
