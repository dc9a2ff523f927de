// Matrix-matrix products straight from quantized weights in the device
// layout (q8_0, q4_0, q4_K, q5_K, q6_K), for steps with more tokens than the
// quantized GEMVs take and fewer than make dequantizing a scratch copy for
// cuBLASLt pay: tiles of 64 rows by 64 tokens, the weights decoded into
// shared memory as 16-bit values of the activations' type and multiplied on
// the tensor cores (the algorithm, and why, in gemm_quant_block.hpp). A
// weight's bytes are read once per 64 tokens, against the scratch path's
// quantized read, 16-bit write and 16-bit read of every weight per step.
//
// When the tiles alone would leave multiprocessors idle (few rows, few
// tokens), the columns are split across blocks: each split writes its
// partial products to a scratch [split][n_tokens][rows] and a second kernel
// adds them in split order, so results do not depend on timing.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "engine/cuda/kernels/gemv_quant.hpp"

namespace llmd::engine::cuda {

// Whether launch_gemm_quant computes this product (store or accumulate into
// f32; k a multiple of 128 and of the type's block).
bool gemm_quant_supported(gguf::GgmlType type, DType x_type, int k, int n_tokens, GemvMode mode);

// Column splits for a product: 1 when the tiles fill about twice the
// multiprocessors, else as many as bring it there, at most one per 128-column
// chunk, and few enough that the partials fit partial_floats.
int gemm_quant_splits(int rows, int n_tokens, int k, int sm_count, size_t partial_floats);

// Floats of partial scratch that gemm_quant_splits never exceeds on a device
// with sm_count multiprocessors (whatever the shape).
size_t gemm_quant_partial_floats(int sm_count);

// y = W x (or y += W x) for a.n_tokens >= 1 tokens, y[t * ldy + r] (no
// folded norm: a.norm_w must be null). With
// n_splits > 1, `partial` holds n_splits * n_tokens * rows floats.
// cudaErrorInvalidValue when not supported, when an address is not aligned
// as the loads need (w's planes as for the GEMV; x 16 bytes) or when the
// splits need a scratch that is missing.
cudaError_t launch_gemm_quant(const GemvQuantArgs& a, int n_splits, float* partial, cudaStream_t stream);

}  // namespace llmd::engine::cuda
