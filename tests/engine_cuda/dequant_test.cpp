// Dequantization kernels element by element against a host reference written
// from the GGUF block layouts (in the layouts' own loop order).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/cuda/kernels/dequant.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::Rng;

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kBF16 = 30;

float h2f(const uint8_t* p) {
  __half_raw r;
  r.x = static_cast<unsigned short>(p[0] | (p[1] << 8));
  return __half2float(__half(r));
}

void put_half(uint8_t* p, float v) {
  __half h = __float2half(v);
  std::memcpy(p, &h, 2);
}

void scale_min(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Reference dequantization of n elements.
std::vector<float> ref_dequant(uint32_t type, const std::vector<uint8_t>& src, size_t n) {
  std::vector<float> y(n);
  float* out = y.data();
  const uint8_t* b = src.data();
  switch (type) {
    case kQ8_0:
      for (size_t i = 0; i < n / 32; ++i, b += 34) {
        const float d = h2f(b);
        for (int j = 0; j < 32; ++j) *out++ = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
      }
      break;
    case kQ4_0:
      for (size_t i = 0; i < n / 32; ++i, b += 18) {
        const float d = h2f(b);
        for (int j = 0; j < 16; ++j) {
          out[j] = static_cast<float>((b[2 + j] & 0x0F) - 8) * d;
          out[j + 16] = static_cast<float>((b[2 + j] >> 4) - 8) * d;
        }
        out += 32;
      }
      break;
    case kQ4_K:
      for (size_t i = 0; i < n / 256; ++i, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        const uint8_t* q = b + 16;
        int is = 0;
        for (int j = 0; j < 256; j += 64) {
          int sc, m;
          scale_min(is, b + 4, &sc, &m);
          const float d1 = d * sc, m1 = dmin * m;
          scale_min(is + 1, b + 4, &sc, &m);
          const float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) *out++ = d1 * (q[l] & 0xF) - m1;
          for (int l = 0; l < 32; ++l) *out++ = d2 * (q[l] >> 4) - m2;
          q += 32;
          is += 2;
        }
      }
      break;
    case kQ5_K:
      for (size_t i = 0; i < n / 256; ++i, b += 176) {
        const float d = h2f(b), dmin = h2f(b + 2);
        const uint8_t* qh = b + 16;
        const uint8_t* ql = b + 48;
        int is = 0;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 256; j += 64) {
          int sc, m;
          scale_min(is, b + 4, &sc, &m);
          const float d1 = d * sc, m1 = dmin * m;
          scale_min(is + 1, b + 4, &sc, &m);
          const float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) *out++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
          for (int l = 0; l < 32; ++l) *out++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
          ql += 32;
          is += 2;
          u1 <<= 2;
          u2 <<= 2;
        }
      }
      break;
    case kQ6_K:
      for (size_t i = 0; i < n / 256; ++i, b += 210) {
        const float d = h2f(b + 208);
        const uint8_t* ql = b;
        const uint8_t* qh = b + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
        for (int c = 0; c < 256; c += 128) {
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            out[l] = d * sc[is] * q1;
            out[l + 32] = d * sc[is + 2] * q2;
            out[l + 64] = d * sc[is + 4] * q3;
            out[l + 96] = d * sc[is + 6] * q4;
          }
          out += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      break;
    case kF32:
      std::memcpy(y.data(), src.data(), n * 4);
      break;
    case kF16:
      for (size_t i = 0; i < n; ++i) y[i] = h2f(&src[2 * i]);
      break;
    case kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint32_t bits = static_cast<uint32_t>(src[2 * i] | (src[2 * i + 1] << 8)) << 16;
        std::memcpy(&y[i], &bits, 4);
      }
      break;
  }
  return y;
}

// Random blocks: random quant bytes, scales that are finite f16 values.
std::vector<uint8_t> random_blocks(Rng& rng, uint32_t type, size_t n) {
  size_t bytes = 0, block = 1, bsz = 0;
  switch (type) {
    case kQ8_0: block = 32; bsz = 34; break;
    case kQ4_0: block = 32; bsz = 18; break;
    case kQ4_K: block = 256; bsz = 144; break;
    case kQ5_K: block = 256; bsz = 176; break;
    case kQ6_K: block = 256; bsz = 210; break;
    case kF32: bsz = 4; break;
    default: bsz = 2; break;
  }
  bytes = n / block * bsz;
  std::vector<uint8_t> v(bytes);
  for (auto& x : v) x = static_cast<uint8_t>(rng.range(0, 255));
  for (size_t off = 0; off < bytes; off += bsz) {
    uint8_t* b = &v[off];
    switch (type) {
      case kQ8_0: case kQ4_0: put_half(b, rng.uniform(-0.05f, 0.05f)); break;
      case kQ4_K: case kQ5_K:
        put_half(b, rng.uniform(0.0f, 0.01f));
        put_half(b + 2, rng.uniform(0.0f, 0.01f));
        break;
      case kQ6_K: put_half(b + 208, rng.uniform(-0.01f, 0.01f)); break;
      case kF32: {
        const float f = rng.normal();
        std::memcpy(b, &f, 4);
        break;
      }
      case kF16: put_half(b, rng.normal()); break;
      case kBF16: {
        const float f = rng.normal();
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        b[0] = static_cast<uint8_t>(bits >> 16);
        b[1] = static_cast<uint8_t>(bits >> 24);
        break;
      }
    }
  }
  return v;
}

TEST(CudaDequant, EveryTypeMatchesTheBlockLayout) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const size_t n = 256 * 37;
  for (uint32_t type : {kQ8_0, kQ4_0, kQ4_K, kQ5_K, kQ6_K, kF32, kF16, kBF16}) {
    SCOPED_TRACE("ggml type " + std::to_string(type));
    ASSERT_TRUE(dequantize_supported(type));
    const std::vector<uint8_t> src = random_blocks(rng, type, n);
    const std::vector<float> ref = ref_dequant(type, src, n);
    DevArray<uint8_t> d_src(src);
    DevArray<float> d_f32(n);
    DevArray<__nv_bfloat16> d_bf(n);
    DevArray<__half> d_h(n);
    ASSERT_TRUE(d_src.ok() && d_f32.ok() && d_bf.ok() && d_h.ok());
    d_f32.poison();
    d_bf.poison();
    d_h.poison();
    CUDA_OK(launch_dequantize(d_src.get(), type, n, d_f32.get(), DType::f32, nullptr));
    CUDA_OK(launch_dequantize(d_src.get(), type, n, d_bf.get(), DType::bf16, nullptr));
    CUDA_OK(launch_dequantize(d_src.get(), type, n, d_h.get(), DType::f16, nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    const auto f32 = d_f32.download();
    const auto bf = test::cuda::to_f32(d_bf.download());
    const auto h = test::cuda::to_f32(d_h.download());
    size_t bad = 0, bad_bf = 0, bad_h = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!(f32[i] == ref[i])) ++bad;
      if (!(bf[i] == test::cuda::round_bf16(ref[i]))) ++bad_bf;
      if (!(h[i] == test::cuda::round_f16(ref[i]))) ++bad_h;
    }
    EXPECT_EQ(bad, 0u) << "f32 elements differing from the reference";
    EXPECT_EQ(bad_bf, 0u) << "bf16 elements differing from the rounded reference";
    EXPECT_EQ(bad_h, 0u) << "f16 elements differing from the rounded reference";
  }
}

TEST(CudaDequant, RejectsPartialBlocksAndUnknownTypes) {
  LLMD_REQUIRE_GPU();
  DevArray<uint8_t> src(1024);
  DevArray<float> dst(1024);
  ASSERT_TRUE(src.ok() && dst.ok());
  EXPECT_EQ(launch_dequantize(src.get(), kQ4_K, 100, dst.get(), DType::f32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(launch_dequantize(src.get(), 3 /* Q4_1 */, 64, dst.get(), DType::f32, nullptr), cudaErrorInvalidValue);
  EXPECT_FALSE(dequantize_supported(3));
  (void)cudaGetLastError();
}

}  // namespace
}  // namespace llmd::engine::cuda
