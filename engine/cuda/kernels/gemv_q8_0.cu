#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/gemv_q8_0.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/token_count.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kWarps = 4;  // rows per block

// One warp per output row. Lane l takes the 16-weight chunks l, l + 32, ...;
// chunk c holds weights 16c .. 16c + 15, half of block c / 2.
template <typename T, int NT, bool kAccumulate>
__global__ void __launch_bounds__(kWarps * 32) gemv_q8_0_kernel(GemvQ8Args a) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  pdl_wait();
  pdl_launch_dependents();
  if (row >= a.rows) return;  // whole warp
  const int k = a.k;
  const int8_t* qs = static_cast<const int8_t*>(a.w) + static_cast<size_t>(row) * k;
  const __half* d =
      reinterpret_cast<const __half*>(static_cast<const char*>(a.w) + a.d_offset) + static_cast<size_t>(row) * (k / 32);
  const T* x = static_cast<const T*>(a.x);
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  const int n_chunks = k >> 4;
  for (int c = lane; c < n_chunks; c += 32) {
    // Weights are read once per step: keep them out of L1.
    const int4 qv = __ldcs(reinterpret_cast<const int4*>(qs + static_cast<size_t>(c) * 16));
    const float scale = __half2float(d[c >> 1]);
    const int words[4] = {qv.x, qv.y, qv.z, qv.w};  // constant indices below: registers, not memory
    float q[16];
#pragma unroll
    for (int j = 0; j < 16; ++j) q[j] = static_cast<float>(static_cast<int8_t>(words[j >> 2] >> ((j & 3) * 8)));
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const T* xp = x + static_cast<size_t>(t) * k + static_cast<size_t>(c) * 16;
      float xf[16];
      load8(xp, xf);
      load8(xp + 8, xf + 8);
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < 16; ++j) s = fmaf(q[j], xf[j], s);
      acc[t] = fmaf(scale, s, acc[t]);
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = warp_sum(acc[t]);
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      float* out = a.y + static_cast<size_t>(t) * a.rows + row;
      *out = kAccumulate ? *out + acc[t] : acc[t];
    }
  }
}

template <typename T, int NT>
cudaError_t launch_nt(const GemvQ8Args& a, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
  if (a.mode == GemvMode::accumulate) {
    return launch_kernel(gemv_q8_0_kernel<T, NT, true>, dim3(blocks), dim3(kWarps * 32), 0, stream, a);
  }
  return launch_kernel(gemv_q8_0_kernel<T, NT, false>, dim3(blocks), dim3(kWarps * 32), 0, stream, a);
}

template <typename T>
cudaError_t launch_typed(const GemvQ8Args& a, cudaStream_t stream) {
  return with_token_count(a.n_tokens, [&](auto nt) { return launch_nt<T, decltype(nt)::value>(a, stream); });
}

}  // namespace

bool gemv_q8_0_supported(DType x_type, int k, int n_tokens, GemvMode mode) {
  return (x_type == DType::f16 || x_type == DType::bf16) && k > 0 && k % 32 == 0 && n_tokens >= 1 &&
         n_tokens <= kGemvMaxTokens && (mode == GemvMode::store || mode == GemvMode::accumulate);
}

cudaError_t launch_gemv_q8_0(const GemvQ8Args& a, cudaStream_t stream) {
  if (a.rows <= 0) return cudaSuccess;
  if (!gemv_q8_0_supported(a.x_type, a.k, a.n_tokens, a.mode) || a.d_offset % 2 != 0) return cudaErrorInvalidValue;
  if (a.x_type == DType::bf16) return launch_typed<__nv_bfloat16>(a, stream);
  return launch_typed<__half>(a, stream);
}

}  // namespace llmd::engine::cuda
