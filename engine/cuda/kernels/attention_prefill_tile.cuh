// Pieces of the tiled prefill attention (attention_prefill.cu): the query
// tile's load into shared memory, the asynchronous copy of a 64-key K or V
// tile out of the paged cache, 16-bit pair stores, and the one-time opt-in to
// more than 48 KB of shared memory.
// Shared-memory rows are padded to HD+8 halves so that ldmatrix rows fall in
// distinct banks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/mma.cuh"

namespace llmd::engine::cuda::dev {

constexpr int kPrefillKeys = 64;  // keys per K/V tile

__device__ __forceinline__ void store2(__half* p, float a, float b) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(a, b);
}
__device__ __forceinline__ void store2(__nv_bfloat16* p, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
}

// Query rows tok0.. of head h as f16, pre-multiplied by qscale, into
// Qs [ROWS][HD+8]; rows past tile.n_rows are zero. Called by all THREADS.
template <int HD, int ROWS, int THREADS>
__device__ __forceinline__ void load_query_tile(const AttnArgs& a, const AttnTile& tile, int h, float qscale,
                                                __half* Qs) {
  constexpr int LD = HD + 8;
  for (int i = threadIdx.x; i < ROWS * (HD / 4); i += THREADS) {
    const int r = i / (HD / 4);
    const int c = (i - r * (HD / 4)) * 4;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (r < tile.n_rows) {
      v = *reinterpret_cast<const float4*>(a.q + (static_cast<size_t>(tile.tok0 + r) * a.n_head + h) * HD + c);
    }
    __half2* dst = reinterpret_cast<__half2*>(Qs + r * LD + c);
    dst[0] = __floats2half2_rn(v.x * qscale, v.y * qscale);
    dst[1] = __floats2half2_rn(v.z * qscale, v.w * qscale);
  }
}

// Issues the asynchronous copy of key rows [kt*64, kt*64+64) of KV head kvh
// of `cache` (a sequence's block table `bt`) into dst [64][HD+8]; rows at or
// past kv_len are zero-filled (their block-table entries may be junk). Called
// by all THREADS; the caller commits the group.
template <int HD, int THREADS>
__device__ __forceinline__ void load_key_tile(const AttnArgs& a, const int32_t* bt, int kvh, int kv_len,
                                              const __half* cache, __half* dst, int kt) {
  constexpr int LD = HD + 8;
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
  const int bs = a.block_size;
  for (int i = threadIdx.x; i < kPrefillKeys * kChunks; i += THREADS) {
    const int r = i / kChunks;
    const int c = (i - r * kChunks) * 8;
    const int key = kt * kPrefillKeys + r;
    const __half* src = cache;
    int n = 0;
    if (key < kv_len) {
      const int blk = bt[key / bs];
      src = cache + ((static_cast<size_t>(blk) * a.n_head_kv + kvh) * bs + key % bs) * HD + c;
      n = 16;
    }
    cp_async16(dst + r * LD + c, src, n);
  }
}

}  // namespace llmd::engine::cuda::dev

namespace llmd::engine::cuda {

// cudaFuncSetAttribute once per (kernel, device) for `bytes` (> 48 KB) of
// dynamic shared memory, with the preference for the largest shared-memory
// carve-out (so that as many blocks fit an SM as the shared memory allows).
// One `done_mask` per kernel.
template <typename Kernel>
cudaError_t ensure_dynamic_smem(Kernel kernel, size_t bytes, std::atomic<uint64_t>& done_mask) {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return e;
  const uint64_t bit = dev < 64 ? (uint64_t{1} << dev) : 0;
  if (bit && (done_mask.load(std::memory_order_acquire) & bit)) return cudaSuccess;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  if (e == cudaSuccess) {
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
  }
  if (e == cudaSuccess && bit) done_mask.fetch_or(bit, std::memory_order_acq_rel);
  return e;
}

}  // namespace llmd::engine::cuda
