#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/dequant.hpp"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

// ggml type ids (engine/gguf/ggml_type.hpp).
constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kBF16 = 30;

constexpr int kThreads = 256;

__device__ __forceinline__ float half_at(const uint8_t* p) {
  const uint16_t bits = static_cast<uint16_t>(p[0] | (p[1] << 8));
  return __half2float(__ushort_as_half(bits));
}

// One thread per group of 32 output elements.

template <typename TO>
__global__ void dq_q8_0(const uint8_t* __restrict__ src, size_t n_groups, TO* __restrict__ dst) {
  for (size_t gi = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; gi < n_groups;
       gi += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint8_t* b = src + gi * 34;  // f16 d, int8 qs[32]
    const float d = half_at(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    TO* y = dst + gi * 32;
#pragma unroll 8
    for (int l = 0; l < 32; ++l) y[l] = from_float<TO>(d * static_cast<float>(qs[l]));
  }
}

template <typename TO>
__global__ void dq_q4_0(const uint8_t* __restrict__ src, size_t n_groups, TO* __restrict__ dst) {
  for (size_t gi = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; gi < n_groups;
       gi += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint8_t* b = src + gi * 18;  // f16 d, uint8 qs[16]: low nibbles -> 0..15, high -> 16..31
    const float d = half_at(b);
    const uint8_t* qs = b + 2;
    TO* y = dst + gi * 32;
#pragma unroll 8
    for (int l = 0; l < 16; ++l) {
      y[l] = from_float<TO>(d * static_cast<float>((qs[l] & 0xF) - 8));
      y[l + 16] = from_float<TO>(d * static_cast<float>((qs[l] >> 4) - 8));
    }
  }
}

// 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
__device__ __forceinline__ void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K: f16 d, f16 dmin, scales[12], qs[128]. Group j of 32 elements: 64-chunk
// c = j/2 uses qs[32c..32c+31], low nibbles for even j, high for odd j.
template <typename TO>
__global__ void dq_q4_k(const uint8_t* __restrict__ src, size_t n_groups, TO* __restrict__ dst) {
  for (size_t gi = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; gi < n_groups;
       gi += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t sb = gi >> 3;
    const int j = static_cast<int>(gi & 7);
    const uint8_t* b = src + sb * 144;
    const float d = half_at(b);
    const float dmin = half_at(b + 2);
    int sc, m;
    scale_min_k4(j, b + 4, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    const uint8_t* q = b + 16 + 32 * (j >> 1);
    const int shift = (j & 1) * 4;
    TO* y = dst + gi * 32;
#pragma unroll 8
    for (int l = 0; l < 32; ++l) y[l] = from_float<TO>(__fsub_rn(__fmul_rn(d1, static_cast<float>((q[l] >> shift) & 0xF)), m1));
  }
}

// Q5_K: f16 d, f16 dmin, scales[12], qh[32], qs[128]. Like Q4_K plus a fifth
// bit: bit j of qh[l] for element l of group j.
template <typename TO>
__global__ void dq_q5_k(const uint8_t* __restrict__ src, size_t n_groups, TO* __restrict__ dst) {
  for (size_t gi = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; gi < n_groups;
       gi += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t sb = gi >> 3;
    const int j = static_cast<int>(gi & 7);
    const uint8_t* b = src + sb * 176;
    const float d = half_at(b);
    const float dmin = half_at(b + 2);
    int sc, m;
    scale_min_k4(j, b + 4, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + 48 + 32 * (j >> 1);
    const int shift = (j & 1) * 4;
    TO* y = dst + gi * 32;
#pragma unroll 8
    for (int l = 0; l < 32; ++l) {
      const int v = ((q[l] >> shift) & 0xF) + (((qh[l] >> j) & 1) << 4);
      y[l] = from_float<TO>(__fsub_rn(__fmul_rn(d1, static_cast<float>(v)), m1));
    }
  }
}

// Q6_K: ql[128], qh[64], int8 scales[16], f16 d. Group j of 32: half n = j/4
// (128 elements: ql + 64n, qh + 32n, scales + 8n), quarter p = j%4.
template <typename TO>
__global__ void dq_q6_k(const uint8_t* __restrict__ src, size_t n_groups, TO* __restrict__ dst) {
  for (size_t gi = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; gi < n_groups;
       gi += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t sb = gi >> 3;
    const int j = static_cast<int>(gi & 7);
    const uint8_t* b = src + sb * 210;
    const float d = half_at(b + 208);
    const int n = j >> 2;
    const int p = j & 3;
    const uint8_t* ql = b + 64 * n + (p & 1) * 32;  // quarters 1 and 3 read ql[l + 32]
    const uint8_t* qh = b + 128 + 32 * n;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + 8 * n + 2 * p;
    const int lo_shift = (p >> 1) * 4;  // quarters 2 and 3 take the high nibble
    const int hi_shift = 2 * p;
    TO* y = dst + gi * 32;
#pragma unroll 8
    for (int l = 0; l < 32; ++l) {
      const int q = (((ql[l] >> lo_shift) & 0xF) | (((qh[l] >> hi_shift) & 3) << 4)) - 32;
      y[l] = from_float<TO>(d * static_cast<float>(sc[l / 16]) * static_cast<float>(q));
    }
  }
}

template <typename TI, typename TO>
__global__ void dq_plain(const TI* __restrict__ src, size_t n, TO* __restrict__ dst) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    dst[i] = from_float<TO>(to_float(src[i]));
  }
}

unsigned grid_for(size_t n) {
  size_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535u * 16u) blocks = 65535u * 16u;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

template <typename TO>
cudaError_t launch_to(const void* src, uint32_t type, size_t n, TO* dst, cudaStream_t stream) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const size_t groups = n / 32;
  switch (type) {
    case kF32: dq_plain<float, TO><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const float*>(src), n, dst); break;
    case kF16: dq_plain<__half, TO><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const __half*>(src), n, dst); break;
    case kBF16:
      dq_plain<__nv_bfloat16, TO><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(src), n, dst);
      break;
    case kQ8_0: dq_q8_0<TO><<<grid_for(groups), kThreads, 0, stream>>>(s, groups, dst); break;
    case kQ4_0: dq_q4_0<TO><<<grid_for(groups), kThreads, 0, stream>>>(s, groups, dst); break;
    case kQ4_K: dq_q4_k<TO><<<grid_for(groups), kThreads, 0, stream>>>(s, groups, dst); break;
    case kQ5_K: dq_q5_k<TO><<<grid_for(groups), kThreads, 0, stream>>>(s, groups, dst); break;
    case kQ6_K: dq_q6_k<TO><<<grid_for(groups), kThreads, 0, stream>>>(s, groups, dst); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

size_t block_elems(uint32_t type) {
  switch (type) {
    case kQ8_0: case kQ4_0: return 32;
    case kQ4_K: case kQ5_K: case kQ6_K: return 256;
    default: return 1;
  }
}

}  // namespace

bool dequantize_supported(uint32_t t) {
  return t == kF32 || t == kF16 || t == kBF16 || t == kQ8_0 || t == kQ4_0 || t == kQ4_K || t == kQ5_K || t == kQ6_K;
}

cudaError_t launch_dequantize(const void* src, uint32_t ggml_type, size_t n_elems, void* dst, DType dst_type,
                              cudaStream_t stream) {
  if (n_elems == 0) return cudaSuccess;
  if (!dequantize_supported(ggml_type) || n_elems % block_elems(ggml_type) != 0) return cudaErrorInvalidValue;
  switch (dst_type) {
    case DType::f32: return launch_to(src, ggml_type, n_elems, static_cast<float*>(dst), stream);
    case DType::f16: return launch_to(src, ggml_type, n_elems, static_cast<__half*>(dst), stream);
    case DType::bf16: return launch_to(src, ggml_type, n_elems, static_cast<__nv_bfloat16*>(dst), stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace llmd::engine::cuda
