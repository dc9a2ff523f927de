// The Q8_0 GEMV over the device layout of engine/quant/device_layout.hpp
// against a float64 product of the dequantized weights (the host reference
// that reads the same layout), for every token count, both activation types,
// store and accumulate, and row lengths that do and do not fill a lane's
// share of the row evenly.
#include <gtest/gtest.h>

#include <vector>

#include "engine/cuda/kernels/gemv_q8_0.hpp"
#include "engine/quant/device_layout.hpp"
#include "engine/quant/quantize.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::Rng;
using test::cuda::rel_error;

template <typename T>
void run_case(Rng& rng, DType xt, int rows, int k, int nt, GemvMode mode) {
  SCOPED_TRACE("q8_0 gemv rows " + std::to_string(rows) + " k " + std::to_string(k) + " tokens " +
               std::to_string(nt) + " x " + std::string(dtype_name(xt)) +
               (mode == GemvMode::accumulate ? " accumulate" : " store"));
  // The weights: random rows quantized by the project's writer, in the device layout.
  const uint64_t row_bytes = *gguf::ggml_row_bytes(gguf::GgmlType::Q8_0, static_cast<uint64_t>(k));
  std::vector<uint8_t> file(static_cast<size_t>(row_bytes) * rows);
  for (int r = 0; r < rows; ++r) {
    const std::vector<float> w = rng.uniform_vec(static_cast<size_t>(k), -1.0f, 1.0f);
    ASSERT_TRUE(quant::quantize_row(gguf::GgmlType::Q8_0, w.data(), file.data() + r * row_bytes, k));
  }
  auto layout = quant::device_layout(gguf::GgmlType::Q8_0, rows, k);
  ASSERT_TRUE(layout) << layout.error().message;
  std::vector<uint8_t> dev_bytes(layout->total_bytes);
  quant::to_device_layout(*layout, file.data(), dev_bytes.data());
  std::vector<float> w(static_cast<size_t>(rows) * k);
  for (int r = 0; r < rows; ++r) quant::dequantize_device_row(*layout, dev_bytes.data(), r, w.data() + static_cast<size_t>(r) * k);

  // The activations, rounded to their type.
  std::vector<float> x = rng.normal_vec(static_cast<size_t>(nt) * k);
  std::vector<T> xq(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if constexpr (std::is_same_v<T, __half>) xq[i] = __float2half(x[i]), x[i] = __half2float(xq[i]);
    else xq[i] = __float2bfloat16(x[i]), x[i] = __bfloat162float(xq[i]);
  }
  std::vector<float> y0 = rng.normal_vec(static_cast<size_t>(nt) * rows);
  std::vector<double> ref(static_cast<size_t>(nt) * rows);
  for (int t = 0; t < nt; ++t) {
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      for (int i = 0; i < k; ++i) {
        s += static_cast<double>(w[static_cast<size_t>(r) * k + i]) * x[static_cast<size_t>(t) * k + i];
      }
      const size_t o = static_cast<size_t>(t) * rows + r;
      ref[o] = s + (mode == GemvMode::accumulate ? y0[o] : 0.0);
    }
  }

  DevArray<uint8_t> d_w(dev_bytes);
  DevArray<T> d_x(xq);
  DevArray<float> d_y(static_cast<size_t>(nt) * rows);
  ASSERT_TRUE(d_w.ok() && d_x.ok() && d_y.ok());
  if (mode == GemvMode::accumulate) d_y.upload(y0);
  else d_y.poison();
  GemvQ8Args a;
  a.w = d_w.get();
  a.d_offset = layout->planes[1].offset;
  a.x = d_x.get();
  a.x_type = xt;
  a.n_tokens = nt;
  a.rows = rows;
  a.k = k;
  a.y = d_y.get();
  a.mode = mode;
  CUDA_OK(launch_gemv_q8_0(a, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  EXPECT_LT(rel_error(ref, d_y.download()), 1e-5);
}

TEST(CudaGemvQ8_0, MatchesFloat64ProductOfTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  ASSERT_EQ(std::string(quant::device_layout(gguf::GgmlType::Q8_0, 1, 32)->planes[1].field), "d");
  for (int nt = 1; nt <= kGemvMaxTokens; ++nt) run_case<__half>(rng, DType::f16, 67, 2048, nt, GemvMode::store);
  run_case<__half>(rng, DType::f16, 203, 4096 + 32 * 5, 1, GemvMode::accumulate);
  run_case<__nv_bfloat16>(rng, DType::bf16, 128, 1024, 3, GemvMode::store);
  run_case<__nv_bfloat16>(rng, DType::bf16, 5, 32, 8, GemvMode::accumulate);
  run_case<__half>(rng, DType::f16, 1, 14336, 1, GemvMode::store);
  EXPECT_FALSE(gemv_q8_0_supported(DType::f16, 48, 1, GemvMode::store));  // k not whole blocks
  EXPECT_FALSE(gemv_q8_0_supported(DType::f32, 64, 1, GemvMode::store));
  EXPECT_FALSE(gemv_q8_0_supported(DType::f16, 64, kGemvMaxTokens + 1, GemvMode::store));
  EXPECT_FALSE(gemv_q8_0_supported(DType::f16, 64, 1, GemvMode::swiglu));
}

}  // namespace
}  // namespace llmd::engine::cuda
