#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/kernels/launch.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kWarps = 4;     // rows per block (small blocks balance the SMs)
constexpr int kUnroll = 4;    // 16-byte weight loads in flight per lane (per matrix)

__device__ __forceinline__ uint4 load_stream(const void* p) {
  // Weights are read once per step: keep them out of L1.
  return __ldcs(reinterpret_cast<const uint4*>(p));
}

template <typename T, int NT>
__device__ __forceinline__ void dot_chunk(uint4 wv, const T* __restrict__ x, int k, int col, float* acc) {
  float w[8];
  unpack8(wv, static_cast<const T*>(nullptr), w);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + static_cast<size_t>(t) * k + col));
    float xf[8];
    unpack8(xv, static_cast<const T*>(nullptr), xf);
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[t] = fmaf(w[i], xf[i], acc[t]);
  }
}

template <typename T, int NT, bool kDual>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const T* __restrict__ w, const T* __restrict__ x,
                                                           int rows, int k, void* __restrict__ y, GemvMode mode,
                                                           bool prefetch) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  // Launched ahead of the previous kernel's end: start pulling this warp's
  // weight rows (which no kernel writes) into L2 while waiting for x.
  if (prefetch && row < rows) {
    const size_t row_bytes = static_cast<size_t>(k) * sizeof(T);
    const char* p = reinterpret_cast<const char*>(w) + static_cast<size_t>(row) * row_bytes;
    for (size_t off = static_cast<size_t>(lane) * 128; off < row_bytes; off += 32 * 128) {
      prefetch_l2(p + off);
      if constexpr (kDual) prefetch_l2(p + static_cast<size_t>(rows) * row_bytes + off);
    }
  }
  pdl_wait();
  pdl_launch_dependents();
  if (row >= rows) return;  // whole warp
  const T* wr = w + static_cast<size_t>(row) * k;
  const T* wu = kDual ? w + static_cast<size_t>(rows + row) * k : nullptr;
  float acc[NT];
  float accu[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = accu[t] = 0.0f;

  const int n_vec = k >> 3;  // 8-element vectors per row
  int v = lane;
  // Main loop: kUnroll full steps of 32 vectors with all loads issued first.
  for (; v + (kUnroll - 1) * 32 < n_vec; v += kUnroll * 32) {
    uint4 wv[kUnroll];
    uint4 uv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      wv[u] = load_stream(wr + static_cast<size_t>(v + u * 32) * 8);
      if constexpr (kDual) uv[u] = load_stream(wu + static_cast<size_t>(v + u * 32) * 8);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      dot_chunk<T, NT>(wv[u], x, k, (v + u * 32) * 8, acc);
      if constexpr (kDual) dot_chunk<T, NT>(uv[u], x, k, (v + u * 32) * 8, accu);
    }
  }
  for (; v < n_vec; v += 32) {
    const uint4 wv = load_stream(wr + static_cast<size_t>(v) * 8);
    dot_chunk<T, NT>(wv, x, k, v * 8, acc);
    if constexpr (kDual) {
      const uint4 uv = load_stream(wu + static_cast<size_t>(v) * 8);
      dot_chunk<T, NT>(uv, x, k, v * 8, accu);
    }
  }

#pragma unroll
  for (int t = 0; t < NT; ++t) {
    acc[t] = warp_sum(acc[t]);
    if constexpr (kDual) accu[t] = warp_sum(accu[t]);
  }
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const size_t idx = static_cast<size_t>(t) * rows + row;
      if constexpr (kDual) {
        const float g = acc[t];
        static_cast<T*>(y)[idx] = from_float<T>(g / (1.0f + expf(-g)) * accu[t]);
      } else if (mode == GemvMode::accumulate) {
        static_cast<float*>(y)[idx] += acc[t];
      } else {
        static_cast<float*>(y)[idx] = acc[t];
      }
    }
  }
}

template <typename T, int NT>
cudaError_t launch_nt(const T* w, const T* x, int rows, int k, void* y, GemvMode mode, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((rows + kWarps - 1) / kWarps);
  const bool prefetch = programmatic_launch();
  if (mode == GemvMode::swiglu) {
    return launch_kernel(gemv_kernel<T, NT, true>, dim3(blocks), dim3(kWarps * 32), 0, stream, w, x, rows, k, y, mode,
                         prefetch);
  }
  return launch_kernel(gemv_kernel<T, NT, false>, dim3(blocks), dim3(kWarps * 32), 0, stream, w, x, rows, k, y, mode,
                       prefetch);
}

template <typename T>
cudaError_t launch_typed(const void* w, const void* x, int n_tokens, int rows, int k, void* y, GemvMode mode,
                         cudaStream_t stream) {
  const T* wt = static_cast<const T*>(w);
  const T* xt = static_cast<const T*>(x);
  switch (n_tokens) {
    case 1: return launch_nt<T, 1>(wt, xt, rows, k, y, mode, stream);
    case 2: return launch_nt<T, 2>(wt, xt, rows, k, y, mode, stream);
    case 3: return launch_nt<T, 3>(wt, xt, rows, k, y, mode, stream);
    case 4: return launch_nt<T, 4>(wt, xt, rows, k, y, mode, stream);
    case 5: return launch_nt<T, 5>(wt, xt, rows, k, y, mode, stream);
    case 6: return launch_nt<T, 6>(wt, xt, rows, k, y, mode, stream);
    case 7: return launch_nt<T, 7>(wt, xt, rows, k, y, mode, stream);
    default: return launch_nt<T, 8>(wt, xt, rows, k, y, mode, stream);
  }
}

}  // namespace

bool gemv_supported(DType w_type, int k, int n_tokens) {
  return (w_type == DType::bf16 || w_type == DType::f16) && k > 0 && k % 8 == 0 && n_tokens >= 1 &&
         n_tokens <= kGemvMaxTokens;
}

cudaError_t launch_gemv(const void* w, DType w_type, const void* x, int n_tokens, int rows, int k, void* y,
                        GemvMode mode, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (!gemv_supported(w_type, k, n_tokens)) return cudaErrorInvalidValue;
  if (w_type == DType::bf16) return launch_typed<__nv_bfloat16>(w, x, n_tokens, rows, k, y, mode, stream);
  return launch_typed<__half>(w, x, n_tokens, rows, k, y, mode, stream);
}

}  // namespace llmd::engine::cuda
