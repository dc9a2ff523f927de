#include "engine/cuda/kernels/gemv_quant.hpp"
#include "engine/cuda/kernels/gemv_quant_kernel.cuh"

namespace llmd::engine::cuda {
namespace {

bool aligned(const void* p, uint64_t offset, uint64_t to) {
  return (reinterpret_cast<uintptr_t>(p) + offset) % to == 0;
}

}  // namespace

bool gemv_quant_supported(gguf::GgmlType type, DType x_type, int k, int n_tokens, GemvMode mode, bool normed) {
  const int block = quant::with_unit_type(type, 0, [](auto unit) { return decltype(unit)::kBlockWeights; });
  // SwiGLU only with the norm folded in (what the forward pass runs).
  const bool mode_ok = normed ? mode == GemvMode::store || mode == GemvMode::swiglu
                              : mode == GemvMode::store || mode == GemvMode::accumulate;
  return block > 0 && (x_type == DType::f16 || x_type == DType::bf16) && k > 0 && k % block == 0 &&
         n_tokens >= 1 && n_tokens <= kGemvMaxTokens && mode_ok;
}

cudaError_t launch_gemv_quant(const GemvQuantArgs& a, cudaStream_t stream) {
  if (!gemv_quant_supported(a.type, a.x_type, a.k, a.n_tokens, a.mode, a.norm_w != nullptr)) {
    return cudaErrorInvalidValue;
  }
  if (a.ldy != 0 && a.ldy < a.rows) return cudaErrorInvalidValue;
  if (!aligned(a.w, a.planes.qs, 16) || !aligned(a.w, a.planes.qh, 16) || !aligned(a.w, a.planes.scales, 8) ||
      !aligned(a.w, a.planes.d, 2)) {
    return cudaErrorInvalidValue;
  }
  if (a.norm_w && (!aligned(a.x, 0, 16) || !aligned(a.norm_w, 0, 16))) return cudaErrorInvalidValue;
  if (a.mode == GemvMode::swiglu ? a.h == nullptr : a.y == nullptr) return cudaErrorInvalidValue;
  if (a.rows <= 0) return cudaSuccess;
  return quant::with_unit_type(a.type, cudaErrorInvalidValue,
                               [&](auto unit) { return launch_gemv_quant_unit<decltype(unit)>(a, stream); });
}

}  // namespace llmd::engine::cuda
