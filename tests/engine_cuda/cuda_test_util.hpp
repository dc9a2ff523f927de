// Helpers for the CUDA tests: skipping without a device, device arrays that
// are poisoned (all bytes 0xFF: NaN for every float type) before a kernel
// writes them, uploads and downloads in a chosen element type, host-side
// bf16/f16 rounding, seeded random inputs and the relative-error measure
// ||out - ref|| / ||ref||.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cuda/device_info.hpp"
#include "engine/cuda/dtype.hpp"

// Skips the test when no CUDA device is usable, with the reason.
#define LLMD_REQUIRE_GPU()                                                              \
  do {                                                                                  \
    auto llmd_devs_ = ::llmd::engine::cuda::list_devices();                             \
    if (!llmd_devs_) GTEST_SKIP() << llmd_devs_.error().message << "; skipping GPU test"; \
  } while (0)

#define CUDA_OK(expr)                                                                          \
  do {                                                                                         \
    cudaError_t llmd_e_ = (expr);                                                              \
    ASSERT_EQ(llmd_e_, cudaSuccess) << #expr << ": " << cudaGetErrorName(llmd_e_) << " "        \
                                    << cudaGetErrorString(llmd_e_);                             \
  } while (0)

namespace llmd::test::cuda {

// Device array of n elements of T. Allocation failures are reported through
// ok(); tests ASSERT on it.
template <typename T>
class DevArray {
 public:
  DevArray() = default;
  explicit DevArray(size_t n) { resize(n); }
  explicit DevArray(const std::vector<T>& h) {
    resize(h.size());
    upload(h);
  }
  ~DevArray() {
    if (p_) cudaFree(p_);
  }
  DevArray(const DevArray&) = delete;
  DevArray& operator=(const DevArray&) = delete;

  void resize(size_t n) {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = n;
    err_ = cudaMalloc(reinterpret_cast<void**>(&p_), (n ? n : 1) * sizeof(T));
  }
  bool ok() const { return err_ == cudaSuccess && p_ != nullptr; }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

  void upload(const std::vector<T>& h) {
    EXPECT_EQ(h.size(), n_);
    EXPECT_EQ(cudaMemcpy(p_, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    EXPECT_EQ(cudaMemcpy(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }
  void poison() { EXPECT_EQ(cudaMemset(p_, 0xFF, (n_ ? n_ : 1) * sizeof(T)), cudaSuccess); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
  cudaError_t err_ = cudaErrorMemoryAllocation;
};

// Values stored as element type t (f32, f16, bf16) in a byte array of the
// right size, and back.
inline void upload_as(DevArray<uint8_t>& d, const std::vector<float>& v, engine::cuda::DType t) {
  using engine::cuda::DType;
  std::vector<uint8_t> raw(v.size() * engine::cuda::dtype_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::f32) {
      std::memcpy(&raw[i * 4], &v[i], 4);
    } else if (t == DType::f16) {
      const __half h = __float2half(v[i]);
      std::memcpy(&raw[i * 2], &h, 2);
    } else {
      const __nv_bfloat16 b = __float2bfloat16(v[i]);
      std::memcpy(&raw[i * 2], &b, 2);
    }
  }
  d.upload(raw);
}
inline std::vector<float> unpack_as_f32(const std::vector<uint8_t>& raw, engine::cuda::DType t) {
  using engine::cuda::DType;
  const size_t esz = engine::cuda::dtype_size(t);
  std::vector<float> o(raw.size() / esz);
  for (size_t i = 0; i < o.size(); ++i) {
    if (t == DType::f32) {
      std::memcpy(&o[i], &raw[i * 4], 4);
    } else if (t == DType::f16) {
      __half h;
      std::memcpy(&h, &raw[i * 2], 2);
      o[i] = __half2float(h);
    } else {
      __nv_bfloat16 b;
      std::memcpy(&b, &raw[i * 2], 2);
      o[i] = __bfloat162float(b);
    }
  }
  return o;
}
inline std::vector<float> download_as_f32(const DevArray<uint8_t>& d, engine::cuda::DType t) {
  return unpack_as_f32(d.download(), t);
}

inline float round_bf16(float x) { return __bfloat162float(__float2bfloat16(x)); }
inline float round_f16(float x) { return __half2float(__float2half(x)); }

inline std::vector<__nv_bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = __float2bfloat16(v[i]);
  return o;
}
inline std::vector<__half> to_f16(const std::vector<float>& v) {
  std::vector<__half> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = __float2half(v[i]);
  return o;
}
inline std::vector<float> to_f32(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = __bfloat162float(v[i]);
  return o;
}
inline std::vector<float> to_f32(const std::vector<__half>& v) {
  std::vector<float> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = __half2float(v[i]);
  return o;
}

// A random generator seeded from LLMD_TEST_SEED or fresh entropy; the seed is
// part of every failure message (SCOPED_TRACE in the caller).
class Rng {
 public:
  Rng() {
    const char* env = std::getenv("LLMD_TEST_SEED");
    seed_ = env && *env ? std::strtoull(env, nullptr, 10) : (static_cast<uint64_t>(std::random_device{}()) << 32 |
                                                                 std::random_device{}());
    gen_.seed(seed_);
  }
  uint64_t seed() const { return seed_; }
  std::string trace() const { return "random seed " + std::to_string(seed_) + " (rerun with LLMD_TEST_SEED)"; }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen_); }
  float normal(float sd = 1.0f) { return std::normal_distribution<float>(0.0f, sd)(gen_); }
  int range(int lo, int hi_inclusive) { return std::uniform_int_distribution<int>(lo, hi_inclusive)(gen_); }
  std::vector<float> uniform_vec(size_t n, float lo, float hi) {
    std::vector<float> v(n);
    for (auto& x : v) x = uniform(lo, hi);
    return v;
  }
  std::vector<float> normal_vec(size_t n, float sd = 1.0f) {
    std::vector<float> v(n);
    for (auto& x : v) x = normal(sd);
    return v;
  }
  std::mt19937_64& gen() { return gen_; }

 private:
  uint64_t seed_;
  std::mt19937_64 gen_;
};

// ||out - ref|| / ||ref||; infinity if any output is not finite (poison left
// behind or an overflow).
template <typename V>
double rel_error(const std::vector<double>& ref, const V& out) {
  EXPECT_EQ(ref.size(), out.size());
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size() && i < out.size(); ++i) {
    const double o = static_cast<double>(out[i]);
    if (!std::isfinite(o)) return INFINITY;
    num += (o - ref[i]) * (o - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace llmd::test::cuda
