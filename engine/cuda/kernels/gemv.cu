#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/token_count.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kWarps = 4;   // rows per block (small blocks balance the SMs)
constexpr int kUnroll = 4;  // 16-byte weight loads in flight per lane (per matrix)

__device__ __forceinline__ uint4 load_stream(const void* p) {
  // Weights are read once per step: keep them out of L1.
  return __ldcs(reinterpret_cast<const uint4*>(p));
}

// Token t's eight activations at column `col`, as floats: from the f32
// residual stream (kNorm) or the 16-bit input.
template <typename T, bool kNorm>
__device__ __forceinline__ void load_x(const void* x, int k, int t, int col, float out[8]) {
  const size_t off = static_cast<size_t>(t) * k + col;
  if constexpr (kNorm) {
    const float4* p = reinterpret_cast<const float4*>(static_cast<const float*>(x) + off);
    const float4 a = __ldg(p);
    const float4 b = __ldg(p + 1);
    out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
    out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
  } else {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(static_cast<const T*>(x) + off));
    unpack8(v, static_cast<const T*>(nullptr), out);
  }
}

// One 8-column chunk: acc[t] += W[row] . x[t] (and accu[t] with the up row);
// with kNorm, ss[t] += x[t]^2 and x is scaled by the norm weights first.
template <typename T, int NT, bool kDual, bool kNorm>
__device__ __forceinline__ void chunk(uint4 wv, uint4 uv, const void* __restrict__ x,
                                      const float* __restrict__ norm_w, int k, int col, float* acc, float* accu,
                                      float* ss) {
  float w[8], u[8], g[8];
  unpack8(wv, static_cast<const T*>(nullptr), w);
  if constexpr (kDual) unpack8(uv, static_cast<const T*>(nullptr), u);
  if constexpr (kNorm) {
    const float4* gp = reinterpret_cast<const float4*>(norm_w + col);
    const float4 g0 = __ldg(gp);
    const float4 g1 = __ldg(gp + 1);
    g[0] = g0.x; g[1] = g0.y; g[2] = g0.z; g[3] = g0.w;
    g[4] = g1.x; g[5] = g1.y; g[6] = g1.z; g[7] = g1.w;
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    float xf[8];
    load_x<T, kNorm>(x, k, t, col, xf);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      if constexpr (kNorm) {
        ss[t] = fmaf(xf[i], xf[i], ss[t]);
        xf[i] *= g[i];
      }
      acc[t] = fmaf(w[i], xf[i], acc[t]);
      if constexpr (kDual) accu[t] = fmaf(u[i], xf[i], accu[t]);
    }
  }
}

// A warp's pass over its weight row(s) from chunk v on: steps of kUnroll
// chunks of each matrix with all loads issued first, then the rest one at
// a time.
template <typename T, int NT, bool kDual, bool kNorm>
__device__ __forceinline__ void stream_rows(const T* wr, const T* wu, const void* x, const float* norm_w, int k,
                                            int v, float* acc, float* accu, float* ss) {
  const int n_vec = k >> 3;  // 8-element chunks per row
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
      chunk<T, NT, kDual, kNorm>(wv[u], uv[u], x, norm_w, k, (v + u * 32) * 8, acc, accu, ss);
    }
  }
  for (; v < n_vec; v += 32) {
    const uint4 wv = load_stream(wr + static_cast<size_t>(v) * 8);
    uint4 uv = wv;
    if constexpr (kDual) uv = load_stream(wu + static_cast<size_t>(v) * 8);
    chunk<T, NT, kDual, kNorm>(wv, uv, x, norm_w, k, v * 8, acc, accu, ss);
  }
}

// The warp's sums, times scale[t] with the fused norm, stored by lane 0 as
// the mode says.
template <typename T, int NT, bool kDual, bool kNorm>
__device__ __forceinline__ void store_row(const GemvArgs& a, int row, int lane, float* acc, float* accu,
                                          const float* scale) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    acc[t] = warp_sum(acc[t]);
    if constexpr (kDual) accu[t] = warp_sum(accu[t]);
    if constexpr (kNorm) {
      acc[t] *= scale[t];
      accu[t] *= scale[t];
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const size_t idx = static_cast<size_t>(t) * a.rows + row;
      if constexpr (kDual) {
        static_cast<T*>(a.y)[idx] = from_float<T>(silu_mul(acc[t], accu[t]));
      } else if (a.mode == GemvMode::accumulate) {
        static_cast<float*>(a.y)[idx] += acc[t];
      } else {
        static_cast<float*>(a.y)[idx] = acc[t];
      }
    }
  }
}

// One warp per output row (and its up row for swiglu); each lane takes every
// 32nd 8-column chunk, kUnroll chunks of each matrix in flight.
template <typename T, int NT, bool kDual, bool kNorm>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(GemvArgs a) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int rows = a.rows;
  const int k = a.k;
  const T* w = static_cast<const T*>(a.w);
  const void* x = a.x;
  pdl_wait();
  pdl_launch_dependents();
  if (row >= rows) return;  // whole warp
  const T* wr = w + static_cast<size_t>(row) * k;
  const T* wu = kDual ? w + static_cast<size_t>(rows + row) * k : nullptr;
  float acc[NT], accu[NT], ss[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = accu[t] = ss[t] = 0.0f;

  stream_rows<T, NT, kDual, kNorm>(wr, wu, x, a.norm_w, k, lane, acc, accu, ss);
  float scale[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    // The same scale as the RMSNorm kernel: every lane covered its chunks of
    // the whole row, so the warp's sum is the row's.
    scale[t] = kNorm ? 1.0f / sqrtf(warp_sum(ss[t]) / static_cast<float>(k) + a.norm_eps) : 1.0f;
  }
  store_row<T, NT, kDual, kNorm>(a, row, lane, acc, accu, scale);
}

template <typename T, int NT, bool kDual, bool kNorm>
cudaError_t launch_variant(const GemvArgs& a, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
  return launch_kernel(gemv_kernel<T, NT, kDual, kNorm>, dim3(blocks), dim3(kWarps * 32), 0, stream, a);
}

template <typename T, int NT>
cudaError_t launch_nt(const GemvArgs& a, cudaStream_t stream) {
  const bool dual = a.mode == GemvMode::swiglu;
  if (a.norm_w) {
    return dual ? launch_variant<T, NT, true, true>(a, stream) : launch_variant<T, NT, false, true>(a, stream);
  }
  return dual ? launch_variant<T, NT, true, false>(a, stream) : launch_variant<T, NT, false, false>(a, stream);
}

template <typename T>
cudaError_t launch_typed(const GemvArgs& a, cudaStream_t stream) {
  return with_token_count(a.n_tokens, [&](auto nt) { return launch_nt<T, decltype(nt)::value>(a, stream); });
}

}  // namespace

bool gemv_supported(DType w_type, int k, int n_tokens) {
  return (w_type == DType::bf16 || w_type == DType::f16) && k > 0 && k % 8 == 0 && n_tokens >= 1 &&
         n_tokens <= kGemvMaxTokens;
}

cudaError_t launch_gemv(const GemvArgs& a, cudaStream_t stream) {
  if (a.rows <= 0) return cudaSuccess;
  if (!gemv_supported(a.w_type, a.k, a.n_tokens)) return cudaErrorInvalidValue;
  if (a.w_type == DType::bf16) return launch_typed<__nv_bfloat16>(a, stream);
  return launch_typed<__half>(a, stream);
}

}  // namespace llmd::engine::cuda
