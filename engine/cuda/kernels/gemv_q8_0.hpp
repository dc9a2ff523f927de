// Matrix-vector products straight from Q8_0 weights kept in the device layout
// of engine/quant/device_layout.hpp (a "qs" plane of int8 values, row after
// row, and a "d" plane of f16 block scales), for decode steps with few tokens:
// each warp streams one row's int8 values with 16-byte loads (half a block
// per lane per load) and dots them with every token's activations, applying
// each block's scale once per 32 products. It reads 1.06 bytes per weight
// where the f16 GEMV reads 2.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "engine/cuda/dtype.hpp"
#include "engine/cuda/kernels/gemv.hpp"

namespace llmd::engine::cuda {

struct GemvQ8Args {
  const void* w = nullptr;  // the matrix in the device layout
  size_t d_offset = 0;      // byte offset of its "d" plane from w
  const void* x = nullptr;  // [n_tokens][k] of x_type (f16 or bf16)
  DType x_type = DType::f16;
  int n_tokens = 1;  // 1 .. kGemvMaxTokens
  int rows = 0;
  int k = 0;            // a multiple of 32
  float* y = nullptr;   // [n_tokens][rows]
  GemvMode mode = GemvMode::store;  // store or accumulate
};

bool gemv_q8_0_supported(DType x_type, int k, int n_tokens, GemvMode mode);
cudaError_t launch_gemv_q8_0(const GemvQ8Args& a, cudaStream_t stream);

}  // namespace llmd::engine::cuda
