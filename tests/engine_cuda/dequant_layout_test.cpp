// Quantized rows copied into dense ones on the device
// (engine/cuda/kernels/dequant_layout.hpp), as the prefill path's scratch
// matrix and the quantized embedding's gather use them: a range of rows and a
// gather of rows, to f32, f16 and bf16, against the host's
// dequantize_device_row; the refusals; and a quantized GEMV writing its rows
// into the columns of a wider output (ldy), as the parts of a split
// projection do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/cuda/kernels/dequant_layout.hpp"
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

const GgmlType kTypes[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

struct HostMatrix {
  quant::DeviceLayout layout;
  std::vector<uint8_t> bytes;  // the device layout
  std::vector<float> w;        // dequantized, [rows][cols]
};

HostMatrix random_matrix(Rng& rng, GgmlType type, int rows, int cols) {
  HostMatrix m;
  const std::vector<uint8_t> file = test::random_blocks(type, rows, cols, rng.gen());
  auto l = quant::device_layout(type, rows, cols);
  EXPECT_TRUE(l) << l.error().message;
  m.layout = *l;
  m.bytes.resize(m.layout.total_bytes);
  quant::to_device_layout(m.layout, file.data(), m.bytes.data());
  m.w.resize(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    quant::dequantize_device_row(m.layout, m.bytes.data(), r, m.w.data() + static_cast<size_t>(r) * cols);
  }
  return m;
}

float to_float(const std::vector<uint8_t>& raw, size_t i, DType t) {
  if (t == DType::f32) {
    float v;
    std::memcpy(&v, &raw[i * 4], 4);
    return v;
  }
  if (t == DType::f16) {
    __half h;
    std::memcpy(&h, &raw[i * 2], 2);
    return __half2float(h);
  }
  __nv_bfloat16 b;
  std::memcpy(&b, &raw[i * 2], 2);
  return __bfloat162float(b);
}

// Relative precision of the output type: the device may also fuse
// scale * q - min into one rounding, far below these.
double type_eps(DType t) { return t == DType::f32 ? 1e-6 : t == DType::f16 ? 1.0 / 1024 : 1.0 / 128; }

void check_rows(Rng& rng, GgmlType type, DType out, const std::vector<int32_t>* ids, int64_t row0, int64_t n_rows) {
  const int rows = 37, cols = 3 * quant::block_elems(type);
  SCOPED_TRACE(std::string(gguf::ggml_type_name(type)) + " to " + dtype_name(out) +
               (ids ? " gather" : " rows from " + std::to_string(row0)));
  const HostMatrix m = random_matrix(rng, type, rows, cols);
  DevArray<uint8_t> d_w(m.bytes);
  DevArray<uint8_t> d_y(static_cast<size_t>(n_rows) * cols * dtype_size(out));
  DevArray<int32_t> d_ids(ids ? *ids : std::vector<int32_t>{0});
  ASSERT_TRUE(d_w.ok() && d_y.ok() && d_ids.ok());
  d_y.poison();
  DequantRowsArgs a;
  a.type = type;
  a.w = d_w.get();
  a.planes = quant::plane_offsets(m.layout);
  a.k = cols;
  a.row_ids = ids ? d_ids.get() : nullptr;
  a.row0 = row0;
  a.n_rows = n_rows;
  a.y = d_y.get();
  a.y_type = out;
  CUDA_OK(launch_dequantize_rows(a, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<uint8_t> raw = d_y.download();
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t src = ids ? (*ids)[static_cast<size_t>(r)] : row0 + r;
    const float* want = m.w.data() + src * cols;
    float mag = 0;
    for (int i = 0; i < cols; ++i) mag = std::max(mag, std::fabs(want[i]));
    for (int i = 0; i < cols; ++i) {
      const float got = to_float(raw, static_cast<size_t>(r * cols + i), out);
      ASSERT_LE(std::fabs(got - want[i]), type_eps(out) * std::fabs(want[i]) + 1e-6 * mag)
          << "row " << r << " weight " << i << ": " << got << " vs " << want[i];
    }
  }
}

TEST(CudaDequantRows, RowsAndGathersMatchTheHostsDequantization) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const std::vector<int32_t> ids = {3, 0, 36, 3, 17};
  for (GgmlType type : kTypes) {
    check_rows(rng, type, DType::f32, nullptr, 0, 37);
    check_rows(rng, type, DType::f16, nullptr, 5, 20);
    check_rows(rng, type, DType::bf16, nullptr, 36, 1);
    check_rows(rng, type, DType::f32, &ids, 0, static_cast<int64_t>(ids.size()));
    check_rows(rng, type, DType::f16, &ids, 0, static_cast<int64_t>(ids.size()));
  }
}

TEST(CudaDequantRows, RefusesWhatItCannotRead) {
  LLMD_REQUIRE_GPU();
  DevArray<uint8_t> buf(1 << 16);
  ASSERT_TRUE(buf.ok());
  DequantRowsArgs a;
  a.type = GgmlType::Q4_K;
  a.w = buf.get();
  a.k = 100;  // not whole super-blocks
  a.n_rows = 1;
  a.y = buf.get();
  EXPECT_EQ(launch_dequantize_rows(a, nullptr), cudaErrorInvalidValue);
  a.k = 256;
  a.type = GgmlType::F16;
  EXPECT_EQ(launch_dequantize_rows(a, nullptr), cudaErrorInvalidValue);
  a.type = GgmlType::Q8_0;
  a.planes.qs = 8;  // a misaligned plane
  EXPECT_EQ(launch_dequantize_rows(a, nullptr), cudaErrorInvalidValue);
}

// Two parts of one projection: rows 0..39 of a q4_K matrix and 0..23 of a
// q6_K one, written as columns [0, 40) and [40, 64) of a [tokens][64] output.
TEST(CudaDequantRows, SplitGemvPartsFillTheirColumns) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int k = 512, nt = 3, total = 64;
  const HostMatrix a = random_matrix(rng, GgmlType::Q4_K, 40, k);
  const HostMatrix b = random_matrix(rng, GgmlType::Q6_K, 24, k);
  std::vector<float> x = rng.normal_vec(static_cast<size_t>(nt) * k);
  std::vector<__half> xh(x.size());
  for (size_t i = 0; i < x.size(); ++i) xh[i] = __float2half(x[i]), x[i] = __half2float(xh[i]);
  DevArray<uint8_t> d_a(a.bytes), d_b(b.bytes);
  DevArray<__half> d_x(xh);
  DevArray<float> d_y(static_cast<size_t>(nt) * total);
  ASSERT_TRUE(d_a.ok() && d_b.ok() && d_x.ok() && d_y.ok());
  d_y.poison();
  int row0 = 0;
  for (const auto* part : {&a, &b}) {
    const void* w = part == &a ? d_a.get() : d_b.get();
    GemvQuantArgs g = make_gemv_quant_args(part->layout, w, d_x.get(), DType::f16, nt, d_y.get() + row0,
                                           GemvMode::store);
    g.ldy = total;
    CUDA_OK(launch_gemv_quant(g, nullptr));
    row0 += static_cast<int>(part->layout.rows);
  }
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<float> y = d_y.download();
  for (int t = 0; t < nt; ++t) {
    for (int r = 0; r < total; ++r) {
      const HostMatrix& m = r < 40 ? a : b;
      const int mr = r < 40 ? r : r - 40;
      double s = 0, mag = 0;
      for (int i = 0; i < k; ++i) {
        const double p = static_cast<double>(m.w[static_cast<size_t>(mr) * k + i]) * x[static_cast<size_t>(t) * k + i];
        s += p;
        mag += std::fabs(p);
      }
      const float got = y[static_cast<size_t>(t) * total + r];
      ASSERT_TRUE(std::isfinite(got)) << "token " << t << " column " << r << " not written";
      EXPECT_LE(std::fabs(got - s), 2e-3 * mag) << "token " << t << " column " << r;
    }
  }
  GemvQuantArgs narrow = make_gemv_quant_args(a.layout, d_a.get(), d_x.get(), DType::f16, nt, d_y.get(),
                                              GemvMode::store);
  narrow.ldy = 39;  // narrower than the part's rows
  EXPECT_EQ(launch_gemv_quant(narrow, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace llmd::engine::cuda
