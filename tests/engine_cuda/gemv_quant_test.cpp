// The GEMVs and the tensor-core products over quantized weights in the device
// layout (q8_0, q4_0, q4_K, q5_K, q6_K; engine/cuda/kernels/gemv_quant.hpp,
// gemm_quant.hpp) against a float64 product of the dequantized layout (the
// host reference reading the same bytes), for random blocks (every value,
// scale and min bit pattern), every GEMV token count and partial token tiles
// of the products, column splits, both activation types, store and
// accumulate, odd row counts, one-block rows and rows that do not fill a
// lane's share evenly; and the refusals and the choice of splits.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/cuda/kernels/gemm_quant.hpp"
#include "engine/cuda/kernels/gemv_quant.hpp"
#include "engine/quant/dequantize.hpp"
#include "engine/quant/device_layout.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"
#include "tests/engine_quant/random_blocks.hpp"

namespace llmd::engine::cuda {
namespace {

using gguf::GgmlType;
using test::cuda::DevArray;
using test::cuda::Rng;

// The worst output's error relative to the sum of its products' magnitudes,
// sum |w_i x_i|: float accumulation stays near 1e-6 of it, while a misread
// value, scale or min moves an output by a sizeable part of it.
constexpr double kMaxError = 2e-3;

// A random quantized matrix: its device-layout bytes and its weights as
// dequantize_device_row gives them.
struct QuantMatrix {
  quant::DeviceLayout layout;
  std::vector<uint8_t> bytes;
  std::vector<float> w;  // [rows][k]
};

QuantMatrix random_matrix(Rng& rng, GgmlType type, int rows, int k) {
  QuantMatrix m;
  const std::vector<uint8_t> file = test::random_blocks(type, rows, k, rng.gen());
  auto layout = quant::device_layout(type, rows, k);
  EXPECT_TRUE(layout) << layout.error().message;
  if (!layout) return m;
  m.layout = *layout;
  m.bytes.resize(m.layout.total_bytes);
  quant::to_device_layout(m.layout, file.data(), m.bytes.data());
  m.w.resize(static_cast<size_t>(rows) * k);
  for (int r = 0; r < rows; ++r) {
    quant::dequantize_device_row(m.layout, m.bytes.data(), r, m.w.data() + static_cast<size_t>(r) * k);
  }
  return m;
}

// splits == 0: the GEMV; else the tensor-core product in that many splits.
template <typename T>
void run_case(Rng& rng, GgmlType type, DType xt, int rows, int k, int nt, GemvMode mode, int splits = 0) {
  SCOPED_TRACE(std::string(gguf::ggml_type_name(type)) + (splits ? " gemm, splits " + std::to_string(splits) : " gemv") +
               " rows " + std::to_string(rows) + " k " + std::to_string(k) + " tokens " + std::to_string(nt) + " x " +
               std::string(dtype_name(xt)) + (mode == GemvMode::accumulate ? " accumulate" : " store"));
  if (splits) ASSERT_TRUE(gemm_quant_supported(type, xt, k, nt, mode));
  else ASSERT_TRUE(gemv_quant_supported(type, xt, k, nt, mode));
  const QuantMatrix m = random_matrix(rng, type, rows, k);
  ASSERT_EQ(m.w.size(), static_cast<size_t>(rows) * k);
  const quant::DeviceLayout* layout = &m.layout;
  const std::vector<uint8_t>& dev_bytes = m.bytes;
  const std::vector<float>& w = m.w;

  // The activations, rounded to their type.
  std::vector<float> x = rng.normal_vec(static_cast<size_t>(nt) * k);
  std::vector<T> xq(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if constexpr (std::is_same_v<T, __half>) xq[i] = __float2half(x[i]), x[i] = __half2float(xq[i]);
    else xq[i] = __float2bfloat16(x[i]), x[i] = __bfloat162float(xq[i]);
  }
  const std::vector<float> y0 = rng.normal_vec(static_cast<size_t>(nt) * rows);
  std::vector<double> ref(static_cast<size_t>(nt) * rows), mag(ref.size());
  for (int t = 0; t < nt; ++t) {
    for (int r = 0; r < rows; ++r) {
      double s = 0, m = 0;
      for (int i = 0; i < k; ++i) {
        const double p = static_cast<double>(w[static_cast<size_t>(r) * k + i]) * x[static_cast<size_t>(t) * k + i];
        s += p;
        m += std::fabs(p);
      }
      const size_t o = static_cast<size_t>(t) * rows + r;
      ref[o] = s + (mode == GemvMode::accumulate ? y0[o] : 0.0);
      mag[o] = m;
    }
  }

  DevArray<uint8_t> d_w(dev_bytes);
  DevArray<T> d_x(xq);
  DevArray<float> d_y(static_cast<size_t>(nt) * rows);
  ASSERT_TRUE(d_w.ok() && d_x.ok() && d_y.ok());
  if (mode == GemvMode::accumulate) d_y.upload(y0);
  else d_y.poison();
  const GemvQuantArgs args = make_gemv_quant_args(*layout, d_w.get(), d_x.get(), xt, nt, d_y.get(), mode);
  if (splits) {
    DevArray<float> partial(static_cast<size_t>(splits) * nt * rows);
    ASSERT_TRUE(partial.ok());
    partial.poison();
    CUDA_OK(launch_gemm_quant(args, splits, partial.get(), nullptr));
    CUDA_OK(cudaDeviceSynchronize());
  } else {
    CUDA_OK(launch_gemv_quant(args, nullptr));
  }
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<float> y = d_y.download();
  double worst = 0;
  size_t worst_at = 0;
  for (size_t o = 0; o < y.size(); ++o) {
    const double e = std::isfinite(y[o]) ? std::fabs(y[o] - ref[o]) / mag[o] : INFINITY;
    if (!(e <= worst)) worst = e, worst_at = o;
  }
  EXPECT_LE(worst, kMaxError) << "token " << worst_at / rows << " row " << worst_at % rows << ": " << y[worst_at]
                              << " vs " << ref[worst_at];
}

// The RMSNorm folded in: x is the f32 residual and norm_w its weights; store
// writes W norm(x), swiglu silu(gate . norm(x)) * (up . norm(x)) in T from a
// matrix of 2 * rows (gate rows, then up rows).
template <typename T>
void run_normed_case(Rng& rng, GgmlType type, DType xt, int rows, int k, int nt, bool swiglu) {
  SCOPED_TRACE(std::string(gguf::ggml_type_name(type)) + " normed gemv rows " + std::to_string(rows) + " k " +
               std::to_string(k) + " tokens " + std::to_string(nt) + (swiglu ? " swiglu " : " store ") +
               std::string(dtype_name(xt)));
  const GemvMode mode = swiglu ? GemvMode::swiglu : GemvMode::store;
  ASSERT_TRUE(gemv_quant_supported(type, xt, k, nt, mode, true));
  const int m_rows = swiglu ? 2 * rows : rows;
  const QuantMatrix m = random_matrix(rng, type, m_rows, k);
  ASSERT_EQ(m.w.size(), static_cast<size_t>(m_rows) * k);
  const quant::DeviceLayout* layout = &m.layout;
  const std::vector<uint8_t>& dev_bytes = m.bytes;
  const std::vector<float>& w = m.w;
  std::vector<float> x = rng.normal_vec(static_cast<size_t>(nt) * k), nw = rng.normal_vec(static_cast<size_t>(k));
  for (float& v : x) v *= 3.0f;
  for (float& v : nw) v = 1.0f + 0.25f * v;
  constexpr float kEps = 1e-5f;

  DevArray<uint8_t> d_w(dev_bytes);
  DevArray<float> d_x(x), d_nw(nw), d_y(static_cast<size_t>(nt) * rows);
  DevArray<T> d_h(static_cast<size_t>(nt) * rows);
  ASSERT_TRUE(d_w.ok() && d_x.ok() && d_nw.ok() && d_y.ok() && d_h.ok());
  d_y.poison();
  d_h.poison();
  GemvQuantArgs a = make_gemv_quant_args(*layout, d_w.get(), d_x.get(), xt, nt, d_y.get(), mode);
  a.rows = rows;
  a.norm_w = d_nw.get();
  a.norm_eps = kEps;
  if (swiglu) a.h = d_h.get();
  CUDA_OK(launch_gemv_quant(a, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<float> y = d_y.download();
  const std::vector<T> h = d_h.download();
  // The 16-bit output's own rounding.
  const double out_ulp = std::is_same_v<T, __half> ? 1.0 / 2048 : 1.0 / 256;
  double worst = 0;
  for (int t = 0; t < nt; ++t) {
    const float* xr = x.data() + static_cast<size_t>(t) * k;
    double sq = 0;
    for (int i = 0; i < k; ++i) sq += static_cast<double>(xr[i]) * xr[i];
    const double inv_rms = 1.0 / std::sqrt(sq / k + kEps);
    auto dot = [&](int r, double* mag) {
      double s = 0;
      *mag = 0;
      for (int i = 0; i < k; ++i) {
        const double p = static_cast<double>(w[static_cast<size_t>(r) * k + i]) * xr[i] * nw[i] * inv_rms;
        s += p;
        *mag += std::fabs(p);
      }
      return s;
    };
    for (int r = 0; r < rows; ++r) {
      double mag_g = 0, mag_u = 0;
      const double g = dot(r, &mag_g);
      const size_t o = static_cast<size_t>(t) * rows + r;
      double e;
      if (swiglu) {
        const double u = dot(rows + r, &mag_u);
        const double sg = 1.0 / (1.0 + std::exp(-g)), silu = g * sg, dsilu = sg * (1.0 + g * (1.0 - sg));
        const double want = silu * u;
        const double got = static_cast<double>(static_cast<float>(h[o]));
        const double tol = kMaxError * (std::fabs(dsilu * u) * mag_g + std::fabs(silu) * mag_u) +
                           out_ulp * std::fabs(want) + 1e-6;
        e = std::isfinite(got) ? std::fabs(got - want) / tol : INFINITY;
      } else {
        e = std::isfinite(y[o]) ? std::fabs(y[o] - g) / (kMaxError * mag_g) : INFINITY;
      }
      worst = std::max(worst, e);
    }
  }
  EXPECT_LE(worst, 1.0) << "worst error as a share of its bound";
}

void run_type(GgmlType type) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int b = quant::block_elems(type);
  for (int nt = 1; nt <= kGemvMaxTokens; ++nt) run_case<__half>(rng, type, DType::f16, 67, 2048, nt, GemvMode::store);
  for (int nt : {1, 4, 8}) {
    run_case<__half>(rng, type, DType::f16, 203, 4096 + 5 * b, nt, GemvMode::accumulate);
    run_case<__nv_bfloat16>(rng, type, DType::bf16, 129, 1024 + b, nt, GemvMode::store);
  }
  run_case<__nv_bfloat16>(rng, type, DType::bf16, 5, b, 8, GemvMode::accumulate);  // one block per row
  run_case<__half>(rng, type, DType::f16, 1, 14336, 1, GemvMode::store);
  run_case<__nv_bfloat16>(rng, type, DType::bf16, 3, 14336, 2, GemvMode::accumulate);

  // The RMSNorm (and SwiGLU) folded in.
  for (int nt : {1, 3, 8}) {
    run_normed_case<__half>(rng, type, DType::f16, 67, 1024 + b, nt, false);
    run_normed_case<__half>(rng, type, DType::f16, 45, 2048, nt, true);
    run_normed_case<__nv_bfloat16>(rng, type, DType::bf16, 130, 1024, nt, true);
  }

  // The tensor-core products: partial and whole tiles of rows and tokens,
  // one and several column splits.
  const int k1 = b > 128 ? b : 128;
  for (int nt : {9, 17, 64, 65, 130, 256}) {
    run_case<__half>(rng, type, DType::f16, 200, 4 * k1, nt, GemvMode::store, 1);
    run_case<__nv_bfloat16>(rng, type, DType::bf16, 64, 8 * k1, nt, GemvMode::accumulate, 3);
  }
  run_case<__half>(rng, type, DType::f16, 4096, 4096, 64, GemvMode::accumulate,
                   gemm_quant_splits(4096, 64, 4096, 132, size_t{1} << 30));
  run_case<__nv_bfloat16>(rng, type, DType::bf16, 37, 14336, 33, GemvMode::store, 112);  // a chunk per split
}

TEST(CudaGemvQuant, Q8_0MatchesFloat64ProductOfTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  run_type(GgmlType::Q8_0);
}

TEST(CudaGemvQuant, Q4_0MatchesFloat64ProductOfTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  run_type(GgmlType::Q4_0);
}

TEST(CudaGemvQuant, Q4_KMatchesFloat64ProductOfTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  run_type(GgmlType::Q4_K);
}

TEST(CudaGemvQuant, Q5_KMatchesFloat64ProductOfTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  run_type(GgmlType::Q5_K);
}

TEST(CudaGemvQuant, Q6_KMatchesFloat64ProductOfTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  run_type(GgmlType::Q6_K);
}

// Checked before any device call: runs without a GPU too.
TEST(CudaGemvQuant, RefusesWhatItDoesNotCompute) {
  for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int b = quant::block_elems(type);
    EXPECT_TRUE(gemv_quant_supported(type, DType::f16, 2 * b, 1, GemvMode::store));
    EXPECT_TRUE(gemv_quant_supported(type, DType::bf16, 2 * b, kGemvMaxTokens, GemvMode::accumulate));
    EXPECT_FALSE(gemv_quant_supported(type, DType::f16, 2 * b + 16, 1, GemvMode::store));  // not whole blocks
    EXPECT_FALSE(gemv_quant_supported(type, DType::f16, 0, 1, GemvMode::store));
    EXPECT_FALSE(gemv_quant_supported(type, DType::f32, 2 * b, 1, GemvMode::store));
    EXPECT_FALSE(gemv_quant_supported(type, DType::f16, 2 * b, 0, GemvMode::store));
    EXPECT_FALSE(gemv_quant_supported(type, DType::f16, 2 * b, kGemvMaxTokens + 1, GemvMode::store));
    EXPECT_FALSE(gemv_quant_supported(type, DType::f16, 2 * b, 1, GemvMode::swiglu));
    EXPECT_TRUE(gemv_quant_supported(type, DType::f16, 2 * b, 1, GemvMode::swiglu, true));
    EXPECT_FALSE(gemv_quant_supported(type, DType::f16, 2 * b, 1, GemvMode::accumulate, true));

    auto layout = quant::device_layout(type, 4, 2 * b);
    ASSERT_TRUE(layout);
    alignas(16) static char fake[16];  // never read: the checks come first
    GemvQuantArgs a = make_gemv_quant_args(*layout, fake, fake, DType::f16, 1, nullptr, GemvMode::store);
    a.n_tokens = kGemvMaxTokens + 1;
    EXPECT_EQ(launch_gemv_quant(a, nullptr), cudaErrorInvalidValue);
    a.n_tokens = 1;
    a.w = fake + 2;  // 16-byte loads need an aligned base
    EXPECT_EQ(launch_gemv_quant(a, nullptr), cudaErrorInvalidValue);
  }
  EXPECT_FALSE(gemv_quant_supported(GgmlType::F16, DType::f16, 64, 1, GemvMode::store));
  EXPECT_FALSE(gemv_quant_supported(GgmlType::Q8_1, DType::f16, 64, 1, GemvMode::store));
}

// Checked before any device call: runs without a GPU too.
TEST(CudaGemmQuant, RefusesWhatItDoesNotCompute) {
  for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    SCOPED_TRACE(std::string(gguf::ggml_type_name(type)));
    const int k = 512;  // whole blocks and whole 128-column chunks for every type
    EXPECT_TRUE(gemm_quant_supported(type, DType::f16, k, 1, GemvMode::store));
    EXPECT_TRUE(gemm_quant_supported(type, DType::bf16, k, 4096, GemvMode::accumulate));
    EXPECT_FALSE(gemm_quant_supported(type, DType::f16, k + 64, 9, GemvMode::store));  // not whole chunks
    EXPECT_FALSE(gemm_quant_supported(type, DType::f32, k, 9, GemvMode::store));
    EXPECT_FALSE(gemm_quant_supported(type, DType::f16, k, 0, GemvMode::store));
    EXPECT_FALSE(gemm_quant_supported(type, DType::f16, k, 9, GemvMode::swiglu));

    auto layout = quant::device_layout(type, 4, k);
    ASSERT_TRUE(layout);
    alignas(16) static char fake[16];  // never read: the checks come first
    GemvQuantArgs a = make_gemv_quant_args(*layout, fake, fake, DType::f16, 9, nullptr, GemvMode::store);
    EXPECT_EQ(launch_gemm_quant(a, 2, nullptr, nullptr), cudaErrorInvalidValue);  // splits without a scratch
    EXPECT_EQ(launch_gemm_quant(a, 0, nullptr, nullptr), cudaErrorInvalidValue);
    EXPECT_EQ(launch_gemm_quant(a, k / 128 + 1, reinterpret_cast<float*>(fake), nullptr),
              cudaErrorInvalidValue);  // more splits than chunks
    a.x = fake + 8;  // activation rows are copied 16 bytes at a time
    EXPECT_EQ(launch_gemm_quant(a, 1, nullptr, nullptr), cudaErrorInvalidValue);
    a.x = fake;
    a.w = fake + 2;
    EXPECT_EQ(launch_gemm_quant(a, 1, nullptr, nullptr), cudaErrorInvalidValue);
  }
  EXPECT_FALSE(gemm_quant_supported(GgmlType::F16, DType::f16, 512, 9, GemvMode::store));
}

// Splits only where the tiles leave multiprocessors idle, never more than
// chunks, and never more partials than the scratch holds.
TEST(CudaGemmQuant, SplitsFillTheDeviceWithinTheScratch) {
  const int sm = 132;
  const size_t cap = gemm_quant_partial_floats(sm);
  EXPECT_EQ(gemm_quant_splits(28672, 64, 4096, sm, cap), 1);    // 448 tiles: enough alone
  EXPECT_EQ(gemm_quant_splits(4096, 64, 14336, sm, cap), 5);    // 64 tiles: 5 x 64 >= 264 blocks
  EXPECT_EQ(gemm_quant_splits(6144, 64, 4096, sm, cap), 3);     // 96 tiles
  EXPECT_EQ(gemm_quant_splits(4096, 256, 4096, sm, cap), 2);    // 256 tiles: 2 x 256 >= 264
  EXPECT_EQ(gemm_quant_splits(64, 9, 256, sm, cap), 2);         // one tile, two chunks
  EXPECT_EQ(gemm_quant_splits(4096, 64, 14336, sm, 2 * 4096 * 64), 2);  // the scratch limits them
  EXPECT_EQ(gemm_quant_splits(4096, 64, 14336, sm, 0), 1);
  for (int rows : {1, 63, 64, 65, 1000, 4096, 14336, 128256}) {
    for (int n : {1, 9, 64, 65, 256, 2048}) {
      for (int k : {128, 4096, 14336}) {
        const int s = gemm_quant_splits(rows, n, k, sm, cap);
        EXPECT_GE(s, 1);
        EXPECT_LE(s, k / 128);
        if (s > 1) {
          EXPECT_LE(static_cast<size_t>(s) * rows * n, cap) << rows << " " << n << " " << k;
        }
      }
    }
  }
}

}  // namespace
}  // namespace llmd::engine::cuda
