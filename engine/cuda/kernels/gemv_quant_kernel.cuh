// The quantized GEMV kernel and its launch for one unit type, included by
// one translation unit per type (gemv_quant_<type>.cu) so that the types'
// many instantiations (token counts, modes, activation types) compile in
// parallel.
#pragma once

#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/gemv_quant.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/quant_loads.cuh"
#include "engine/cuda/kernels/token_count.cuh"

namespace llmd::engine::cuda {
namespace gemv_quant_detail {

using namespace dev;


constexpr int kWarps = 4;  // rows per block

// A token's 16 activations as floats (16-byte aligned: 32-weight groups start
// at multiples of 16 elements and rows are whole blocks).
template <typename T>
struct DeviceX {
  const T* x;
  int k;
  __device__ void operator()(int t, int64_t i, float (&xs)[16]) const {
    const T* xp = x + static_cast<size_t>(t) * k + i;
    load8(xp, xs);
    load8(xp + 8, xs + 8);
  }
};

// acc[t] += W[row] . x[t] over this lane's units, with x as the kernel reads
// it (kNorm: the f32 residual times the norm's weights, squares into ss).
template <class U, typename T, int NT, bool kNorm>
__device__ __forceinline__ void row_dots(const GemvQuantArgs& a, int row, int lane, float (&acc)[NT], float* ss) {
  const uint8_t* w = static_cast<const uint8_t*>(a.w);
  if constexpr (kNorm) {
    const quant::NormedX<CachedLoad> x{static_cast<const float*>(a.x), a.norm_w, a.k, ss};
    quant::lane_dots<U, NT, StreamLoad>(w, a.planes, row, a.k, lane, 32, x, acc);
  } else {
    quant::lane_dots<U, NT, StreamLoad>(w, a.planes, row, a.k, lane, 32, DeviceX<T>{static_cast<const T*>(a.x), a.k},
                                        acc);
  }
}

// One warp per output row; lane l takes units l, l + 32, ... of the row (and
// of its up row with kSwiglu).
template <class U, typename T, int NT, GemvMode kMode, bool kNorm>
__global__ void __launch_bounds__(kWarps * 32) gemv_quant_kernel(GemvQuantArgs a) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  pdl_wait();
  pdl_launch_dependents();
  if (row >= a.rows) return;  // whole warp
  constexpr bool kSwiglu = kMode == GemvMode::swiglu;
  float acc[NT], accu[NT], ss[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = accu[t] = ss[t] = 0.0f;
  row_dots<U, T, NT, kNorm>(a, row, lane, acc, ss);
  if constexpr (kSwiglu) row_dots<U, T, NT, kNorm>(a, a.rows + row, lane, accu, nullptr);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    // Every lane covered its units of the whole row, so the warp's sums are
    // the row's.
    const float scale = kNorm ? quant::rms_scale(warp_sum(ss[t]), a.k, a.norm_eps) : 1.0f;
    acc[t] = warp_sum(acc[t]) * scale;
    if constexpr (kSwiglu) accu[t] = warp_sum(accu[t]) * scale;
  }
  if (lane == 0) {
    const size_t ldy = static_cast<size_t>(a.ldy > 0 ? a.ldy : a.rows);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const size_t at = static_cast<size_t>(t) * ldy + row;
      if constexpr (kSwiglu) {
        static_cast<T*>(a.h)[at] = from_float<T>(silu_mul(acc[t], accu[t]));
      } else {
        float* out = a.y + at;
        *out = kMode == GemvMode::accumulate ? *out + acc[t] : acc[t];
      }
    }
  }
}

template <class U, typename T, int NT, GemvMode kMode, bool kNorm>
cudaError_t launch_variant(const GemvQuantArgs& a, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
  return launch_kernel(gemv_quant_kernel<U, T, NT, kMode, kNorm>, dim3(blocks), dim3(kWarps * 32), 0, stream, a);
}

// The variants instantiated: store and accumulate of 16-bit activations;
// with the norm folded in, store (the QKV product: T is then unused, one
// instantiation) and SwiGLU (gate|up), never accumulate.
template <class U, typename T, int NT>
cudaError_t launch_nt(const GemvQuantArgs& a, cudaStream_t stream) {
  if (a.norm_w) {
    if (a.mode == GemvMode::swiglu) return launch_variant<U, T, NT, GemvMode::swiglu, true>(a, stream);
    return launch_variant<U, __half, NT, GemvMode::store, true>(a, stream);
  }
  if (a.mode == GemvMode::accumulate) return launch_variant<U, T, NT, GemvMode::accumulate, false>(a, stream);
  return launch_variant<U, T, NT, GemvMode::store, false>(a, stream);
}


// The launch for unit type U, every token count and activation type.
template <class U>
cudaError_t launch_unit(const GemvQuantArgs& a, cudaStream_t stream) {
  return with_token_count(a.n_tokens, [&](auto nt) {
    if (a.x_type == DType::bf16) return launch_nt<U, __nv_bfloat16, decltype(nt)::value>(a, stream);
    return launch_nt<U, __half, decltype(nt)::value>(a, stream);
  });
}

}  // namespace gemv_quant_detail

// launch_unit<U>, one explicit specialization per type, each defined by its
// gemv_quant_<type>.cu.
template <class U>
cudaError_t launch_gemv_quant_unit(const GemvQuantArgs& a, cudaStream_t stream);
template <>
cudaError_t launch_gemv_quant_unit<quant::UnitQ8_0>(const GemvQuantArgs& a, cudaStream_t stream);
template <>
cudaError_t launch_gemv_quant_unit<quant::UnitQ4_0>(const GemvQuantArgs& a, cudaStream_t stream);
template <>
cudaError_t launch_gemv_quant_unit<quant::UnitQ4_K>(const GemvQuantArgs& a, cudaStream_t stream);
template <>
cudaError_t launch_gemv_quant_unit<quant::UnitQ5_K>(const GemvQuantArgs& a, cudaStream_t stream);
template <>
cudaError_t launch_gemv_quant_unit<quant::UnitQ6_K>(const GemvQuantArgs& a, cudaStream_t stream);

}  // namespace llmd::engine::cuda
