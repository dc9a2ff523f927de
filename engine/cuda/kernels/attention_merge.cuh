// Merging the split partial results of the per-token attention
// (attention_tokens.cu): each split of a (token, query head) leaves its
// unnormalised output o_s [head_dim], its score maximum m_s and its sum of
// exponentials l_s; the result is
//   out = sum_s o_s * exp(m_s - m) / sum_s l_s * exp(m_s - m),  m = max_s m_s.
// The merge kernel and the merge done by the last split block of a group use
// these same steps in the same order, so they give the same bits.
//
// Partials are read with ld.global.cg (L2, not L1): in the in-kernel merge
// they were written by other blocks of the same launch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>

#include "engine/cuda/dtype.hpp"
#include "engine/cuda/kernels/common.cuh"

namespace llmd::engine::cuda::dev {

// Output element types are a run-time choice (stores are a small part of the
// work), which keeps the number of kernel instantiations down.
__device__ __forceinline__ void store_out(void* out, DType t, size_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(out)[i] = v; break;
    case DType::f16: static_cast<__half*>(out)[i] = __float2half_rn(v); break;
    case DType::bf16: static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v); break;
  }
}

// Called by one whole warp. Partial s of the (token, head) is p0 + s*n_head
// (part_ml [..][2] = m, l). Writes weight[s] = exp(m_s - m) for every split
// and returns 1 / sum_s l_s * weight[s] (in every lane). Each lane takes
// every 32nd split, so one round of loads covers 32 splits.
__device__ __forceinline__ float merge_weights(const float* __restrict__ part_ml, size_t p0, int n_head,
                                               int n_splits, float* weight, int lane) {
  float m = -INFINITY;
  for (int s = lane; s < n_splits; s += 32) m = fmaxf(m, __ldcg(part_ml + (p0 + static_cast<size_t>(s) * n_head) * 2));
  m = warp_max(m);
  float l = 0.0f;
  for (int s = lane; s < n_splits; s += 32) {
    const size_t pi = p0 + static_cast<size_t>(s) * n_head;
    const float e = expf(__ldcg(part_ml + pi * 2) - m);
    weight[s] = e;
    l += __ldcg(part_ml + pi * 2 + 1) * e;
  }
  l = warp_sum(l);
  return 1.0f / l;
}

// Dimension d of the merged output: the splits' partials weighted in split
// order, many loads in flight.
__device__ __forceinline__ float merge_dim(const float* __restrict__ part_o, size_t p0, int n_head, int hd,
                                           int n_splits, const float* weight, float inv_l, int d) {
  float o = 0.0f;
#pragma unroll 16
  for (int s = 0; s < n_splits; ++s) o += __ldcg(part_o + (p0 + static_cast<size_t>(s) * n_head) * hd + d) * weight[s];
  return o * inv_l;
}

}  // namespace llmd::engine::cuda::dev
