// Matrix-vector products straight from quantized weights kept in the device
// layout of engine/quant/device_layout.hpp (q8_0, q4_0, q4_K, q5_K, q6_K), for
// decode steps with few tokens. One warp per output row; its lanes take the
// row's units (engine/quant/device_units.hpp: 32 or 64 weights) in turn,
// stream their bytes with 16-byte loads, decode them in registers with the
// functions the host tests check, and dot every group of 16 weights with each
// token's activations, applying the group's scale (and min) once per 16
// products. Bytes read per weight: q8_0 1.06, q6_K 0.82, q5_K 0.69, q4_0 0.56,
// q4_K 0.56, against 2 for the f16 GEMV.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/cuda/dtype.hpp"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/gguf/ggml_type.hpp"
#include "engine/quant/device_units.hpp"

namespace llmd::engine::cuda {

struct GemvQuantArgs {
  gguf::GgmlType type = gguf::GgmlType::Q8_0;
  const void* w = nullptr;     // the matrix in the device layout, 16-byte aligned
  quant::PlaneOffsets planes;  // of that layout (quant::plane_offsets)
  const void* x = nullptr;     // [n_tokens][k] of x_type (f16 or bf16)
  DType x_type = DType::f16;
  int n_tokens = 1;  // 1 .. kGemvMaxTokens
  int rows = 0;
  int k = 0;           // a whole number of the type's blocks (32 or 256)
  float* y = nullptr;  // [n_tokens][ldy]: row r of token t at y[t * ldy + r]
  int ldy = 0;         // y's token stride in floats; 0 = rows (a matrix of its own)
  GemvMode mode = GemvMode::store;  // store or accumulate
};

// The arguments for a matrix of `layout` at device address w.
inline GemvQuantArgs make_gemv_quant_args(const quant::DeviceLayout& layout, const void* w, const void* x,
                                          DType x_type, int n_tokens, float* y, GemvMode mode) {
  GemvQuantArgs a;
  a.type = layout.type;
  a.w = w;
  a.planes = quant::plane_offsets(layout);
  a.x = x;
  a.x_type = x_type;
  a.n_tokens = n_tokens;
  a.rows = static_cast<int>(layout.rows);
  a.k = static_cast<int>(layout.cols);
  a.y = y;
  a.mode = mode;
  return a;
}

bool gemv_quant_supported(gguf::GgmlType type, DType x_type, int k, int n_tokens, GemvMode mode);
// cudaErrorInvalidValue when not supported or an address is not aligned as
// the loads need (w and the qs/qh planes 16 bytes, scales 8, d 2).
cudaError_t launch_gemv_quant(const GemvQuantArgs& a, cudaStream_t stream);

}  // namespace llmd::engine::cuda
