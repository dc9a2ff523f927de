// Matrix-vector products straight from quantized weights kept in the device
// layout of engine/quant/device_layout.hpp (q8_0, q4_0, q4_K, q5_K, q6_K), for
// decode steps with few tokens. One warp per output row; its lanes take the
// row's units (engine/quant/device_units.hpp: 32 or 64 weights) in turn,
// stream their bytes with 16-byte loads, decode them in registers with the
// functions the host tests check, and dot every group of 16 weights with each
// token's activations, applying the group's scale (and min) once per 16
// products. Bytes read per weight: q8_0 1.06, q6_K 0.82, q5_K 0.69, q4_0 0.56,
// q4_K 0.56, against 2 for the f16 GEMV.
//
// As the 16-bit GEMVs do, they can fold in the RMSNorm of their input (x is
// then the f32 residual, normalised as it is read: quant::NormedX) and, for
// a stacked gate|up matrix, the SwiGLU of the two products (one launch
// instead of three before the down projection).
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
  // [n_tokens][k]: of x_type (f16 or bf16); with norm_w, the f32 residual.
  const void* x = nullptr;
  // The activations' type: of x, and of h's SwiGLU output.
  DType x_type = DType::f16;
  // When set (store and swiglu modes, not the tensor-core products), each
  // token's row of x is replaced by RMSNorm(x[t]) * norm_w ([k] f32) first.
  // The swiglu mode needs it.
  const float* norm_w = nullptr;
  float norm_eps = 1e-5f;
  int n_tokens = 1;  // 1 .. kGemvMaxTokens
  int rows = 0;      // output rows (swiglu: the matrix holds 2 * rows, gate then up)
  int k = 0;         // a whole number of the type's blocks (32 or 256)
  float* y = nullptr;  // [n_tokens][ldy]: row r of token t at y[t * ldy + r]
  int ldy = 0;         // y's (or h's) token stride in elements; 0 = rows (a matrix of its own)
  GemvMode mode = GemvMode::store;  // store, accumulate, or swiglu (into h)
  void* h = nullptr;  // swiglu: [n_tokens][ldy] of x_type, silu(gate . x) * (up . x)
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

// Whether launch_gemv_quant computes this product; `normed`: with norm_w.
bool gemv_quant_supported(gguf::GgmlType type, DType x_type, int k, int n_tokens, GemvMode mode,
                          bool normed = false);
// cudaErrorInvalidValue when not supported or an address is not aligned as
// the loads need (w and the qs/qh planes 16 bytes, scales 8, d 2).
cudaError_t launch_gemv_quant(const GemvQuantArgs& a, cudaStream_t stream);

}  // namespace llmd::engine::cuda
