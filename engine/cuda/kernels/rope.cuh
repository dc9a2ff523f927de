// Rotary position embedding of one element pair, shared by the RoPE/KV-store
// kernel and the decode attention that can do the same work itself: both must
// produce the same bits.
#pragma once

#include <cuda_runtime.h>

namespace llmd::engine::cuda::dev {

// (y0, y1) = (x0 c - x1 s, x0 s + x1 c), each product and sum rounded on its
// own (no fused multiply-add), as the CPU backend computes it.
__device__ __forceinline__ void rope_rotate(float x0, float x1, float c, float s, float& y0, float& y1) {
  y0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
  y1 = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

// Element e of head `head` of one token's q|k|v row after RoPE: `row` is the
// token's projection output, `bias` (optional) added first; dims at or past
// rope_dim pass through. Pairs are (2i, 2i+1), or (i, i + rope_dim/2) for
// neox. cs: the position's [rope_dim/2][2] cos/sin.
__device__ __forceinline__ float rope_element(const float* row, const float* bias, int head, int hd, int e,
                                              int rope_dim, bool neox, const float* cs) {
  const int base = head * hd;
  auto in = [&](int d) { return bias ? row[base + d] + bias[base + d] : row[base + d]; };
  if (e >= rope_dim) return in(e);
  const int half = rope_dim / 2;
  const int i = neox ? (e < half ? e : e - half) : e / 2;
  const int e0 = neox ? i : 2 * i;
  const int e1 = neox ? i + half : 2 * i + 1;
  float y0, y1;
  rope_rotate(in(e0), in(e1), cs[2 * i], cs[2 * i + 1], y0, y1);
  return e == e0 ? y0 : y1;
}

}  // namespace llmd::engine::cuda::dev
