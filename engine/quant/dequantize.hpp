// Reference dequantization of GGUF tensor rows to float32, exactly per the
// block layouts in block_types.hpp. Used for embedding lookups, for packing
// weights into backend layouts, and by tests; not on any hot path.
#pragma once

#include <cstdint>

#include "engine/gguf/ggml_type.hpp"

namespace llmd::quant {

// True for the weight types the engine computes with:
// F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K.
bool is_supported_weight_type(gguf::GgmlType type);

// Elements per block (1 for plain float types); 0 if unsupported.
int block_elems(gguf::GgmlType type);

// Dequantizes `n` consecutive elements of `type` starting at `src` (the start
// of a block); `n` must be a multiple of block_elems(type). Returns false for
// an unsupported type or a bad `n`.
bool dequantize_row(gguf::GgmlType type, const void* src, float* dst, int64_t n);

}  // namespace llmd::quant
