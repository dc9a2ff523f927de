// Float32 to GGUF block quantization (round to nearest, simple scale search).
// Used to write synthetic models and by tests; dequantize_row inverts the
// layouts exactly. Not tuned for quality like a production quantizer.
#pragma once

#include <cstdint>

#include "engine/gguf/ggml_type.hpp"

namespace llmd::quant {

// Quantizes `n` floats (a multiple of the type's block size) into `dst`, which
// must hold gguf::ggml_row_bytes(type, n) bytes. Supports the same types as
// dequantize_row. Returns false for an unsupported type or a bad `n`.
bool quantize_row(gguf::GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace llmd::quant
