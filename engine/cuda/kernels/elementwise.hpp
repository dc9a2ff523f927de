// Small per-token kernels: embedding gather, RMSNorm, SwiGLU, residual add,
// type conversion. Each launcher returns the launch's cudaError_t
// (cudaGetLastError after the launch); buffers are row-major.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "engine/cuda/dtype.hpp"

namespace llmd::engine::cuda {

// out[t][:] = table[tokens[t]][:] as f32.
//   table [n_vocab][dim] of table_type; out [n_tokens][dim] f32.
// Token ids must already be validated (0 <= id < n_vocab).
cudaError_t launch_embed(const void* table, DType table_type, const int32_t* tokens, int n_tokens, int dim,
                         float* out, cudaStream_t stream);

// y[r][:] = x[src][:] / sqrt(mean(x[src]^2) + eps) * w[:], src = rows ? rows[r] : r.
//   x [*][dim] f32; w [dim] f32; y [n_rows][dim] of y_type.
cudaError_t launch_rmsnorm(const float* x, const int32_t* rows, int n_rows, int dim, const float* w, float eps,
                           void* y, DType y_type, cudaStream_t stream);

// h[t][i] = silu(gu[t][i]) * gu[t][ffn + i].
//   gu [n_tokens][2*ffn] of gu_type; h [n_tokens][ffn] of h_type.
cudaError_t launch_swiglu(const void* gu, DType gu_type, int n_tokens, int ffn, void* h, DType h_type,
                          cudaStream_t stream);

// y[i] += x[i] for i < n.
cudaError_t launch_add_inplace(float* y, const float* x, size_t n, cudaStream_t stream);

// dst[i] = src[i] converted, for i < n.
cudaError_t launch_convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n,
                           cudaStream_t stream);

// Fills n floats with a value (poisoning outputs in tests, clearing buffers).
cudaError_t launch_fill_f32(float* dst, size_t n, float value, cudaStream_t stream);

// dst[i] = uniform in [lo, hi) from a counter-based hash of (seed, i), in
// dst_type: deterministic random weights generated on the device.
cudaError_t launch_fill_random(void* dst, DType dst_type, size_t n, float lo, float hi, uint64_t seed,
                               cudaStream_t stream);

}  // namespace llmd::engine::cuda
