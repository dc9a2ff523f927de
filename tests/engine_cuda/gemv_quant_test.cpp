// The GEMVs over quantized weights in the device layout (q8_0, q4_0, q4_K,
// q5_K, q6_K; engine/cuda/kernels/gemv_quant.hpp) against a float64 product
// of the dequantized layout (the host reference reading the same bytes), for
// random blocks (every value, scale and min bit pattern), every token count,
// both activation types, store and accumulate, odd row counts, one-block rows
// and rows that do not fill a lane's share evenly; and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

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

template <typename T>
void run_case(Rng& rng, GgmlType type, DType xt, int rows, int k, int nt, GemvMode mode) {
  SCOPED_TRACE(std::string(gguf::ggml_type_name(type)) + " gemv rows " + std::to_string(rows) + " k " +
               std::to_string(k) + " tokens " + std::to_string(nt) + " x " + std::string(dtype_name(xt)) +
               (mode == GemvMode::accumulate ? " accumulate" : " store"));
  ASSERT_TRUE(gemv_quant_supported(type, xt, k, nt, mode));
  const std::vector<uint8_t> file = test::random_blocks(type, rows, k, rng.gen());
  auto layout = quant::device_layout(type, rows, k);
  ASSERT_TRUE(layout) << layout.error().message;
  std::vector<uint8_t> dev_bytes(layout->total_bytes);
  quant::to_device_layout(*layout, file.data(), dev_bytes.data());
  std::vector<float> w(static_cast<size_t>(rows) * k);
  for (int r = 0; r < rows; ++r) {
    quant::dequantize_device_row(*layout, dev_bytes.data(), r, w.data() + static_cast<size_t>(r) * k);
  }

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
  CUDA_OK(launch_gemv_quant(make_gemv_quant_args(*layout, d_w.get(), d_x.get(), xt, nt, d_y.get(), mode), nullptr));
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

}  // namespace
}  // namespace llmd::engine::cuda
