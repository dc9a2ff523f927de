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

struct GemvArgs {
  const void* w = nullptr;  // [rows (2 * rows for swiglu)][k] of w_type (f16 or bf16)
  DType w_type = DType::bf16;
  // [n_tokens][k]: of w_type, or f32 when norm_w is set.
  const void* x = nullptr;
  // When set, x is the f32 residual stream and each token's row is replaced by
  // RMSNorm(x[t]) * norm_w (norm_w [k] f32) first: the normalisation is fused
  // into the product (the RMS is taken over the row the warp reads anyway).
  const float* norm_w = nullptr;
  float norm_eps = 1e-5f;
  int n_tokens = 1;  // 1 .. kGemvMaxTokens
  int rows = 0;
  int k = 0;  // a multiple of 8
  void* y = nullptr;  // [n_tokens][rows]
  GemvMode mode = GemvMode::store;
};

bool gemv_supported(DType w_type, int k, int n_tokens);
cudaError_t launch_gemv(const GemvArgs& a, cudaStream_t stream);

// The arguments of a product without the fused normalisation.
inline GemvArgs make_gemv_args(const void* w, DType w_type, const void* x, int n_tokens, int rows, int k, void* y,
                               GemvMode mode) {
  GemvArgs a;
  a.w = w;
  a.w_type = w_type;
  a.x = x;
  a.n_tokens = n_tokens;
  a.rows = rows;
  a.k = k;
  a.y = y;
  a.mode = mode;
  return a;
}

inline cudaError_t launch_gemv(const void* w, DType w_type, const void* x, int n_tokens, int rows, int k, void* y,
                               GemvMode mode, cudaStream_t stream) {
  return launch_gemv(make_gemv_args(w, w_type, x, n_tokens, rows, k, y, mode), stream);
}

}  // namespace llmd::engine::cuda
