// Conversion of GGUF tensor data (plain or block-quantized) into the element
// type the backend computes with, on the device. Block layouts follow the
// GGUF/ggml definitions: Q8_0 and Q4_0 (32 elements per block, f16 scale),
// Q4_K, Q5_K and Q6_K (256-element super-blocks with 6/8-bit sub-scales).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "engine/cuda/dtype.hpp"

namespace llmd::engine::cuda {

// Whether a ggml type id can be converted (F32, F16, BF16, Q8_0, Q4_0, Q4_K,
// Q5_K, Q6_K).
bool dequantize_supported(uint32_t ggml_type);

// dst[0..n_elems) = dequantized src; n_elems must be a whole number of blocks.
// src holds the raw GGUF bytes in device memory.
cudaError_t launch_dequantize(const void* src, uint32_t ggml_type, size_t n_elems, void* dst, DType dst_type,
                              cudaStream_t stream);

}  // namespace llmd::engine::cuda
