// cuBLASLt projection GEMMs (Y = X W^T, optionally accumulated) against a
// float64 reference, for every element type the backend uses, including
// operands that are not 256-byte aligned.
#include <gtest/gtest.h>

#include <vector>

#include "engine/cuda/device_pool.hpp"
#include "engine/cuda/gemm_lt.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::rel_error;
using test::cuda::Rng;

struct GemmCase {
  DType wt;
  DType yt;
  int m, n, k;
  bool accumulate;
  int x_offset;  // elements: misaligns X
};

std::vector<uint8_t> pack(const std::vector<float>& v, DType t, std::vector<float>* rounded) {
  std::vector<uint8_t> out(v.size() * dtype_size(t));
  rounded->resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::f32) {
      std::memcpy(&out[i * 4], &v[i], 4);
      (*rounded)[i] = v[i];
    } else if (t == DType::f16) {
      __half h = __float2half(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
      (*rounded)[i] = __half2float(h);
    } else {
      __nv_bfloat16 b = __float2bfloat16(v[i]);
      std::memcpy(&out[i * 2], &b, 2);
      (*rounded)[i] = __bfloat162float(b);
    }
  }
  return out;
}

std::vector<double> unpack(const std::vector<uint8_t>& raw, DType t) {
  const std::vector<float> f = test::cuda::unpack_as_f32(raw, t);
  return std::vector<double>(f.begin(), f.end());
}

TEST(CudaGemm, ProjectionsMatchFloat64) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  DeviceHealth health;
  DeviceBuffer ws;
  ASSERT_TRUE(ws.allocate(health, size_t{32} << 20, "workspace").ok());
  LtGemm gemm(&health);
  ASSERT_TRUE(gemm.init(ws.get(), ws.bytes()).ok());
  const GemmCase cases[] = {
      {DType::bf16, DType::f32, 512, 7, 256, false, 0},    {DType::bf16, DType::f32, 1000, 64, 4096, true, 0},
      {DType::bf16, DType::bf16, 768, 33, 512, false, 0},  {DType::f16, DType::f32, 256, 5, 1024, true, 0},
      {DType::f32, DType::f32, 172, 9, 64, false, 0},       {DType::f32, DType::f32, 64, 3, 172, true, 0},
      {DType::bf16, DType::f32, 384, 10, 344, false, 4},   {DType::bf16, DType::f32, 4096, 2048, 512, false, 0},
  };
  for (const GemmCase& c : cases) {
    SCOPED_TRACE(std::string(dtype_name(c.wt)) + "->" + dtype_name(c.yt) + " m " + std::to_string(c.m) + " n " +
                 std::to_string(c.n) + " k " + std::to_string(c.k) + (c.accumulate ? " acc" : "") + " x offset " +
                 std::to_string(c.x_offset));
    std::vector<float> w = rng.uniform_vec(static_cast<size_t>(c.m) * c.k, -1.0f, 1.0f);
    std::vector<float> x = rng.normal_vec(static_cast<size_t>(c.n) * c.k + c.x_offset);
    std::vector<float> y0 = rng.normal_vec(static_cast<size_t>(c.n) * c.m, 4.0f);
    std::vector<float> wr, xr, yr;
    DevArray<uint8_t> d_w(pack(w, c.wt, &wr)), d_x(pack(x, c.wt, &xr));
    const std::vector<uint8_t> y_packed = pack(y0, c.yt, &yr);
    DevArray<uint8_t> d_y(y_packed);
    ASSERT_TRUE(d_w.ok() && d_x.ok() && d_y.ok());
    if (!c.accumulate) d_y.poison();
    GemmArgs a;
    a.w = d_w.get();
    a.w_type = c.wt;
    a.x = d_x.get() + static_cast<size_t>(c.x_offset) * dtype_size(c.wt);
    a.x_type = c.wt;
    a.y = d_y.get();
    a.y_type = c.yt;
    a.m = c.m;
    a.n = c.n;
    a.k = c.k;
    a.accumulate = c.accumulate;
    std::vector<double> ref(static_cast<size_t>(c.n) * c.m);
    for (int t = 0; t < c.n; ++t)
      for (int r = 0; r < c.m; ++r) {
        double s = c.accumulate ? yr[static_cast<size_t>(t) * c.m + r] : 0.0;
        for (int i = 0; i < c.k; ++i)
          s += static_cast<double>(wr[static_cast<size_t>(r) * c.k + i]) * xr[c.x_offset + static_cast<size_t>(t) * c.k + i];
        ref[static_cast<size_t>(t) * c.m + r] = s;
      }
    const double tol = c.yt == DType::bf16 ? 1e-2 : (c.wt == DType::f32 ? 1e-5 : 1e-4);
    // The heuristic's algorithm, then the fastest candidate after tuning
    // (which overwrites y while timing: y starts again from y0).
    for (bool tuned : {false, true}) {
      SCOPED_TRACE(tuned ? "tuned" : "heuristic");
      if (tuned) {
        auto choice = gemm.tune(a, nullptr);
        ASSERT_TRUE(choice.ok()) << choice.error().message;
        auto count = gemm.candidate_count(a);
        ASSERT_TRUE(count.ok());
        EXPECT_GE(*choice, 0);
        EXPECT_LT(*choice, *count);
        d_y.upload(y_packed);
        if (!c.accumulate) d_y.poison();
      }
      Status st = gemm.run(a, nullptr);
      ASSERT_TRUE(st.ok()) << st.error().message;
      CUDA_OK(cudaDeviceSynchronize());
      const double err = rel_error(ref, unpack(d_y.download(), c.yt));
      EXPECT_LT(err, tol) << "relative error " << err;
    }
  }
  EXPECT_GT(gemm.cached_shapes(), 0u);
  // The same shape again reuses its plan.
  const size_t before = gemm.cached_shapes();
  DevArray<uint16_t> w(64 * 64), x(64 * 8);
  DevArray<float> y(64 * 8);
  ASSERT_TRUE(w.ok() && x.ok() && y.ok());
  GemmArgs a{w.get(), DType::bf16, x.get(), DType::bf16, y.get(), DType::f32, 64, 8, 64, false};
  ASSERT_TRUE(gemm.run(a, nullptr).ok());
  ASSERT_TRUE(gemm.run(a, nullptr).ok());
  EXPECT_EQ(gemm.cached_shapes(), before + 1);
  CUDA_OK(cudaDeviceSynchronize());
}

TEST(CudaGemm, RejectsMixedTypes) {
  DeviceHealth health;
  LtGemm gemm(&health);
  EXPECT_FALSE(LtGemm::types_supported(DType::bf16, DType::f16, DType::f32));
  EXPECT_FALSE(LtGemm::types_supported(DType::f16, DType::f16, DType::bf16));
  EXPECT_TRUE(LtGemm::types_supported(DType::bf16, DType::bf16, DType::bf16));
  GemmArgs a;
  a.m = a.n = a.k = 8;
  EXPECT_FALSE(gemm.run(a, nullptr).ok());  // not initialised: an error, not a crash
}

}  // namespace
}  // namespace llmd::engine::cuda
