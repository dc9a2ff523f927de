#include <algorithm>

#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/launch.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kThreads = 256;

unsigned grid_for(size_t n, int threads) {
  size_t blocks = (n + threads - 1) / threads;
  if (blocks > 65535u * 16u) blocks = 65535u * 16u;  // grid-stride loops cover the rest
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

template <typename T>
__global__ void embed_kernel(const T* __restrict__ table, const int32_t* __restrict__ tokens, int dim,
                             float* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x;
  const T* row = table + static_cast<size_t>(tokens[t]) * dim;
  float* o = out + static_cast<size_t>(t) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = to_float(row[i]);
}

template <typename TO>
__global__ void rmsnorm_kernel(const float* __restrict__ x, const int32_t* __restrict__ rows, int dim,
                               const float* __restrict__ w, float eps, TO* __restrict__ y) {
  __shared__ float red[32];
  pdl_wait();
  pdl_launch_dependents();
  const int r = blockIdx.x;
  const int src = rows ? rows[r] : r;
  const float* xr = x + static_cast<size_t>(src) * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i];
    ss += v * v;
  }
  ss = block_sum(ss, red);
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
  TO* yr = y + static_cast<size_t>(r) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = from_float<TO>(xr[i] * scale * w[i]);
}

// Grid: x over the FFN width, y over tokens (both grid-stride). One element
// per thread and step; the fallback for widths that are not a multiple of 8.
template <typename TI, typename TO>
__global__ void swiglu_kernel(const TI* __restrict__ gu, int n_tokens, int ffn, TO* __restrict__ h) {
  pdl_wait();
  pdl_launch_dependents();
  for (int t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    const TI* g = gu + static_cast<size_t>(t) * 2 * ffn;
    const TI* u = g + ffn;
    TO* o = h + static_cast<size_t>(t) * ffn;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < ffn; i += gridDim.x * blockDim.x) {
      o[i] = from_float<TO>(silu_mul(to_float(g[i]), to_float(u[i])));
    }
  }
}

// v[0..8) stored at p (aligned to the vector size) as T.
__device__ __forceinline__ void store8(float* p, const float v[8]) {
  reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
template <typename T>
__device__ __forceinline__ void store8(T* p, const float v[8]) {
  uint4 packed;
  T* e = reinterpret_cast<T*>(&packed);
#pragma unroll
  for (int i = 0; i < 8; ++i) e[i] = from_float<T>(v[i]);
  *reinterpret_cast<uint4*>(p) = packed;
}

// Widths that are a multiple of 8: each thread takes eight consecutive
// elements with vector loads and stores (16 bytes per 16-bit access), so a
// warp keeps eight times the bytes in flight of the one-element kernel; the
// per-element arithmetic is the same, so the bits are too. Grid: x over
// ffn/8, y over tokens (both grid-stride).
template <typename TI, typename TO>
__global__ void swiglu8_kernel(const TI* __restrict__ gu, int n_tokens, int ffn, TO* __restrict__ h) {
  pdl_wait();
  pdl_launch_dependents();
  const int n8 = ffn / 8;
  for (int t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    const TI* g = gu + static_cast<size_t>(t) * 2 * ffn;
    const TI* u = g + ffn;
    TO* o = h + static_cast<size_t>(t) * ffn;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
      float gv[8], uv[8], ov[8];
      load8(g + 8 * i, gv);
      load8(u + 8 * i, uv);
#pragma unroll
      for (int j = 0; j < 8; ++j) ov[j] = silu_mul(gv[j], uv[j]);
      store8(o + 8 * i, ov);
    }
  }
}

__global__ void add_kernel(float* __restrict__ y, const float* __restrict__ x, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    y[i] += x[i];
  }
}

template <typename TI, typename TO>
__global__ void convert_kernel(const TI* __restrict__ src, TO* __restrict__ dst, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    dst[i] = from_float<TO>(to_float(src[i]));
  }
}

__global__ void fill_kernel(float* __restrict__ dst, size_t n, float v) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    dst[i] = v;
  }
}

__device__ __forceinline__ uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <typename T>
__global__ void fill_random_kernel(T* __restrict__ dst, size_t n, float lo, float span, uint64_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float u = static_cast<float>(mix64(seed ^ mix64(i)) >> 40) * (1.0f / 16777216.0f);
    dst[i] = from_float<T>(lo + span * u);
  }
}

// Calls f(T{}) with T the C++ type of `t`.
template <typename F>
void dispatch(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::f16: f(__half{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
  }
}

}  // namespace

cudaError_t launch_embed(const void* table, DType table_type, const int32_t* tokens, int n_tokens, int dim,
                         float* out, cudaStream_t stream) {
  if (n_tokens <= 0) return cudaSuccess;
  cudaError_t e = cudaSuccess;
  dispatch(table_type, [&](auto tag) {
    using T = decltype(tag);
    e = launch_kernel(embed_kernel<T>, dim3(n_tokens), dim3(kThreads), 0, stream, static_cast<const T*>(table), tokens,
                      dim, out);
  });
  return e;
}

cudaError_t launch_rmsnorm(const float* x, const int32_t* rows, int n_rows, int dim, const float* w, float eps,
                           void* y, DType y_type, cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  const int threads = dim >= 1024 ? 512 : (dim >= 256 ? 256 : 64);
  cudaError_t e = cudaSuccess;
  dispatch(y_type, [&](auto tag) {
    using T = decltype(tag);
    e = launch_kernel(rmsnorm_kernel<T>, dim3(n_rows), dim3(threads), 0, stream, x, rows, dim, w, eps,
                      static_cast<T*>(y));
  });
  return e;
}

cudaError_t launch_swiglu(const void* gu, DType gu_type, int n_tokens, int ffn, void* h, DType h_type,
                          cudaStream_t stream) {
  if (n_tokens <= 0 || ffn <= 0) return cudaSuccess;
  // Rows start at multiples of ffn elements, so ffn % 8 == 0 keeps every
  // eight-element access aligned to its size (the buffers are).
  const bool vec = ffn % 8 == 0;
  const int per_block = vec ? kThreads * 8 : kThreads;
  const dim3 grid(std::min<unsigned>(static_cast<unsigned>((ffn + per_block - 1) / per_block), 1024u),
                  std::min<unsigned>(static_cast<unsigned>(n_tokens), 65535u));
  cudaError_t e = cudaSuccess;
  dispatch(gu_type, [&](auto ti) {
    using TI = decltype(ti);
    dispatch(h_type, [&](auto to) {
      using TO = decltype(to);
      e = launch_kernel(vec ? swiglu8_kernel<TI, TO> : swiglu_kernel<TI, TO>, grid, dim3(kThreads), 0, stream,
                        static_cast<const TI*>(gu), n_tokens, ffn, static_cast<TO*>(h));
    });
  });
  return e;
}

cudaError_t launch_add_inplace(float* y, const float* x, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  add_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(y, x, n);
  return cudaGetLastError();
}

cudaError_t launch_convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n,
                           cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  dispatch(src_type, [&](auto ti) {
    using TI = decltype(ti);
    dispatch(dst_type, [&](auto to) {
      using TO = decltype(to);
      convert_kernel<TI, TO><<<grid_for(n, kThreads), kThreads, 0, stream>>>(static_cast<const TI*>(src),
                                                                             static_cast<TO*>(dst), n);
    });
  });
  return cudaGetLastError();
}

cudaError_t launch_fill_f32(float* dst, size_t n, float value, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  fill_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(dst, n, value);
  return cudaGetLastError();
}

cudaError_t launch_fill_random(void* dst, DType dst_type, size_t n, float lo, float hi, uint64_t seed,
                               cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  dispatch(dst_type, [&](auto tag) {
    using T = decltype(tag);
    fill_random_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(static_cast<T*>(dst), n, lo, hi - lo, seed);
  });
  return cudaGetLastError();
}

}  // namespace llmd::engine::cuda
