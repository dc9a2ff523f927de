#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/gemv_quant.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/token_count.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kWarps = 4;  // rows per block

// The unit loads on the device. Weights are read once per step: the 16-byte
// loads keep them out of L1 (evict-first); the small scale loads are shared by
// neighbouring units and go through the read-only path.
struct DeviceLoad {
  __device__ static void load16(const uint8_t* p, uint32_t out[4]) {
    const int4 v = __ldcs(reinterpret_cast<const int4*>(p));
    out[0] = static_cast<uint32_t>(v.x);
    out[1] = static_cast<uint32_t>(v.y);
    out[2] = static_cast<uint32_t>(v.z);
    out[3] = static_cast<uint32_t>(v.w);
  }
  __device__ static void load8(const uint8_t* p, uint32_t out[2]) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    out[0] = v.x;
    out[1] = v.y;
  }
  __device__ static uint32_t load2(const uint8_t* p) { return __ldg(reinterpret_cast<const unsigned short*>(p)); }
};

// A token's 16 activations as floats (16-byte aligned: 32-weight groups start
// at multiples of 16 elements and rows are whole blocks).
template <typename T>
struct DeviceX {
  const T* x;
  int k;
  __device__ void operator()(int t, int64_t i, float (&xs)[16]) const {
    const T* xp = x + static_cast<size_t>(t) * k + i;
    load8(xp, xs);
    load8(xp + 8, xs + 8);
  }
};

// One warp per output row; lane l takes units l, l + 32, ... of the row.
template <class U, typename T, int NT, bool kAccumulate>
__global__ void __launch_bounds__(kWarps * 32) gemv_quant_kernel(GemvQuantArgs a) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  pdl_wait();
  pdl_launch_dependents();
  if (row >= a.rows) return;  // whole warp
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  quant::lane_dots<U, NT, DeviceLoad>(static_cast<const uint8_t*>(a.w), a.planes, row, a.k, lane, 32,
                                      DeviceX<T>{static_cast<const T*>(a.x), a.k}, acc);
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = warp_sum(acc[t]);
  if (lane == 0) {
    const size_t ldy = static_cast<size_t>(a.ldy > 0 ? a.ldy : a.rows);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      float* out = a.y + static_cast<size_t>(t) * ldy + row;
      *out = kAccumulate ? *out + acc[t] : acc[t];
    }
  }
}

template <class U, typename T, int NT>
cudaError_t launch_nt(const GemvQuantArgs& a, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
  if (a.mode == GemvMode::accumulate) {
    return launch_kernel(gemv_quant_kernel<U, T, NT, true>, dim3(blocks), dim3(kWarps * 32), 0, stream, a);
  }
  return launch_kernel(gemv_quant_kernel<U, T, NT, false>, dim3(blocks), dim3(kWarps * 32), 0, stream, a);
}

template <class U, typename T>
cudaError_t launch_typed(const GemvQuantArgs& a, cudaStream_t stream) {
  return with_token_count(a.n_tokens, [&](auto nt) { return launch_nt<U, T, decltype(nt)::value>(a, stream); });
}

bool aligned(const void* p, uint64_t offset, uint64_t to) {
  return (reinterpret_cast<uintptr_t>(p) + offset) % to == 0;
}

}  // namespace

bool gemv_quant_supported(gguf::GgmlType type, DType x_type, int k, int n_tokens, GemvMode mode) {
  const int block = quant::with_unit_type(type, 0, [](auto unit) { return decltype(unit)::kBlockWeights; });
  return block > 0 && (x_type == DType::f16 || x_type == DType::bf16) && k > 0 && k % block == 0 &&
         n_tokens >= 1 && n_tokens <= kGemvMaxTokens && (mode == GemvMode::store || mode == GemvMode::accumulate);
}

cudaError_t launch_gemv_quant(const GemvQuantArgs& a, cudaStream_t stream) {
  if (!gemv_quant_supported(a.type, a.x_type, a.k, a.n_tokens, a.mode)) return cudaErrorInvalidValue;
  if (a.ldy != 0 && a.ldy < a.rows) return cudaErrorInvalidValue;
  if (!aligned(a.w, a.planes.qs, 16) || !aligned(a.w, a.planes.qh, 16) || !aligned(a.w, a.planes.scales, 8) ||
      !aligned(a.w, a.planes.d, 2)) {
    return cudaErrorInvalidValue;
  }
  if (a.rows <= 0) return cudaSuccess;
  return quant::with_unit_type(a.type, cudaErrorInvalidValue, [&](auto unit) {
    using U = decltype(unit);
    if (a.x_type == DType::bf16) return launch_typed<U, __nv_bfloat16>(a, stream);
    return launch_typed<U, __half>(a, stream);
  });
}

}  // namespace llmd::engine::cuda
