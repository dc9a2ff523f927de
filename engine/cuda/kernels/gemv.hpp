// Matrix-vector products for decode steps with few tokens, where a GEMM is
// bound by reading the weights once: each warp streams one weight row with
// 16-byte loads and dots it with every token's activations.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/cuda/dtype.hpp"

namespace llmd::engine::cuda {

constexpr int kGemvMaxTokens = 8;

enum class GemvMode : uint8_t {
  store,       // y[t][r] = W[r] . x[t]                 (y f32)
  accumulate,  // y[t][r] += W[r] . x[t]                (y f32, residual add)
  swiglu,      // y[t][r] = silu(W[r] . x[t]) * (W[rows + r] . x[t])  (y of w_type)
};

// W [rows (2*rows for swiglu)][k] and x [n_tokens][k] both of w_type (f16 or
// bf16), k a multiple of 8; y [n_tokens][rows]. 1 <= n_tokens <= kGemvMaxTokens.
bool gemv_supported(DType w_type, int k, int n_tokens);
cudaError_t launch_gemv(const void* w, DType w_type, const void* x, int n_tokens, int rows, int k, void* y,
                        GemvMode mode, cudaStream_t stream);

}  // namespace llmd::engine::cuda
