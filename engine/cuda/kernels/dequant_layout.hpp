// Rows of a quantized matrix kept in the device layout
// (engine/quant/device_layout.hpp: q8_0, q4_0, q4_K, q5_K, q6_K) dequantized
// into a dense matrix: the prefill path's scratch copy of a weight matrix
// before cuBLASLt, and the token embedding's gather. Each weight comes out as
// the host's dequantize_device_row gives it (the unit decoders of
// engine/quant/device_units.hpp), then rounded to the destination type.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/cuda/dtype.hpp"
#include "engine/gguf/ggml_type.hpp"
#include "engine/quant/device_units.hpp"

namespace llmd::engine::cuda {

struct DequantRowsArgs {
  gguf::GgmlType type = gguf::GgmlType::Q8_0;
  const void* w = nullptr;     // the matrix in the device layout
  quant::PlaneOffsets planes;  // of that layout
  int k = 0;                   // columns: a whole number of the type's blocks
  // Output row r is source row row_ids[r] when row_ids is set (a gather,
  // e.g. token ids), else row0 + r.
  const int32_t* row_ids = nullptr;
  int64_t row0 = 0;
  int64_t n_rows = 0;
  void* y = nullptr;  // [n_rows][k] of y_type
  DType y_type = DType::f16;
};

// cudaErrorInvalidValue for an unsupported type, a k that is not a whole
// number of blocks, or misaligned planes (as launch_gemv_quant).
cudaError_t launch_dequantize_rows(const DequantRowsArgs& a, cudaStream_t stream);

}  // namespace llmd::engine::cuda
