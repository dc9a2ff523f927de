// Tensor-core flash attention for prefill chunks over the paged f16 KV-cache.
// See attention.hpp for the contract and mma.cuh for fragment layouts.
#include <cuda_runtime.h>

#include <atomic>

#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/attention_prefill_tile.cuh"
#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/mma.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kBM = 64;  // queries per tile: 4 warps x 16 rows
constexpr int kBN = kPrefillKeys;  // keys per iteration (64)
constexpr int kThreads = 128;

template <int HD>
constexpr size_t prefill_smem_bytes() {
  return static_cast<size_t>(kBM + 2 * kBN) * (HD + 8) * sizeof(__half);
}

// Grid: (n_tiles, n_head). Shared memory (f16, rows padded to HD+8 so that
// ldmatrix rows fall in distinct banks): Q [64][HD+8] | K [64][HD+8] | V [64][HD+8].
// Scores are kept in log2 units (q pre-multiplied by scale*log2(e)).
template <int HD, typename OT>
__global__ void __launch_bounds__(kThreads) attn_prefill_kernel(AttnArgs a, const AttnTile* __restrict__ tiles) {
  pdl_wait();
  pdl_launch_dependents();
  constexpr int LD = HD + 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __half* Qs = reinterpret_cast<__half*>(smem_raw);
  __half* Ks = Qs + kBM * LD;
  __half* Vs = Ks + kBN * LD;

  const AttnTile tile = tiles[blockIdx.x];
  const int h = blockIdx.y;
  const int kvh = h / (a.n_head / a.n_head_kv);
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const float qscale = a.scale * 1.4426950408889634f;

  load_query_tile<HD, kBM, kThreads>(a, tile, h, qscale, Qs);

  const int32_t* bt = a.block_tables + static_cast<size_t>(tile.seq) * a.bt_stride;
  const __half* kc = static_cast<const __half*>(a.k_cache);
  const __half* vc = static_cast<const __half*>(a.v_cache);
  const int kv_len = tile.pos0 + tile.n_rows;  // keys 0..kv_len-1 are needed
  const int n_kt = (kv_len + kBN - 1) / kBN;

  auto load_tile = [&](const __half* cache, __half* dst, int kt) {
    load_key_tile<HD, kThreads>(a, bt, kvh, kv_len, cache, dst, kt);
  };

  load_tile(kc, Ks, 0);
  cp_async_commit();
  load_tile(vc, Vs, 0);
  cp_async_commit();
  __syncthreads();  // Q stores visible to every warp

  // This warp's 16 query rows as A fragments, one per 16-wide slice of HD.
  uint32_t qf[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    const int row = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
    const int col = kk * 16 + (lane >> 4) * 8;
    ldmatrix_x4(qf[kk], Qs + row * LD + col);
  }

  const int g = lane >> 2;
  const int tq = lane & 3;
  const int row0 = warp * 16 + g;
  const int row1 = row0 + 8;
  const int qpos0 = tile.pos0 + min(row0, tile.n_rows - 1);
  const int qpos1 = tile.pos0 + min(row1, tile.n_rows - 1);

  float o[HD / 8][4];
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY;  // running max of rows row0, row1
  float l0 = 0.0f, l1 = 0.0f;            // this thread's share of the running sums

  for (int kt = 0; kt < n_kt; ++kt) {
    cp_async_wait<1>();  // K tile kt has landed
    __syncthreads();

    float s[kBN / 8][4];
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < kBN / 16; ++np) {
        uint32_t b[4];
        const int key = np * 16 + (lane & 7) + (lane >> 4) * 8;
        const int col = kk * 16 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(b, Ks + key * LD + col);
        mma_f16_16816(s[2 * np], qf[kk], b[0], b[1]);
        mma_f16_16816(s[2 * np + 1], qf[kk], b[2], b[3]);
      }
    }

    // Causal mask (also hides the zero-filled rows past kv_len).
    const int kbase = kt * kBN;
    if (kbase + kBN - 1 > qpos0 || kbase + kBN - 1 > qpos1) {
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
        const int key = kbase + j * 8 + 2 * tq;
        if (key > qpos0) s[j][0] = -INFINITY;
        if (key + 1 > qpos0) s[j][1] = -INFINITY;
        if (key > qpos1) s[j][2] = -INFINITY;
        if (key + 1 > qpos1) s[j][3] = -INFINITY;
      }
    }

    // Online softmax. Key 0 is visible to every row, so the maxima are finite
    // from the first tile on.
    float mx0 = m0, mx1 = m1;
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
      mx0 = fmaxf(mx0, fmaxf(s[j][0], s[j][1]));
      mx1 = fmaxf(mx1, fmaxf(s[j][2], s[j][3]));
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(kFullMask, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(kFullMask, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(kFullMask, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(kFullMask, mx1, 2));
    const float alpha0 = exp2f(m0 - mx0);
    const float alpha1 = exp2f(m1 - mx1);
    m0 = mx0;
    m1 = mx1;
    float rs0 = 0.0f, rs1 = 0.0f;
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
      s[j][0] = exp2f(s[j][0] - m0);
      s[j][1] = exp2f(s[j][1] - m0);
      s[j][2] = exp2f(s[j][2] - m1);
      s[j][3] = exp2f(s[j][3] - m1);
      rs0 += s[j][0] + s[j][1];
      rs1 += s[j][2] + s[j][3];
    }
    l0 = l0 * alpha0 + rs0;
    l1 = l1 * alpha1 + rs1;
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) {
      o[j][0] *= alpha0;
      o[j][1] *= alpha0;
      o[j][2] *= alpha1;
      o[j][3] *= alpha1;
    }

    __syncthreads();  // every warp is done reading K tile kt
    if (kt + 1 < n_kt) load_tile(kc, Ks, kt + 1);
    cp_async_commit();
    cp_async_wait<1>();  // V tile kt has landed (K tile kt+1 may be pending)
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t pa[4];
      pa[0] = pack_half2(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = pack_half2(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < HD / 16; ++dp) {
        uint32_t b[4];
        const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int col = dp * 16 + (lane >> 4) * 8;
        ldmatrix_x4_trans(b, Vs + key * LD + col);
        mma_f16_16816(o[2 * dp], pa, b[0], b[1]);
        mma_f16_16816(o[2 * dp + 1], pa, b[2], b[3]);
      }
    }

    __syncthreads();  // every warp is done reading V tile kt
    if (kt + 1 < n_kt) load_tile(vc, Vs, kt + 1);
    cp_async_commit();
  }
  cp_async_wait<0>();

  l0 += __shfl_xor_sync(kFullMask, l0, 1);
  l0 += __shfl_xor_sync(kFullMask, l0, 2);
  l1 += __shfl_xor_sync(kFullMask, l1, 1);
  l1 += __shfl_xor_sync(kFullMask, l1, 2);
  const float inv0 = 1.0f / l0;
  const float inv1 = 1.0f / l1;
  OT* out = static_cast<OT*>(a.out);
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) {
    const int d = j * 8 + 2 * tq;
    if (row0 < tile.n_rows) {
      store2(out + (static_cast<size_t>(tile.tok0 + row0) * a.n_head + h) * HD + d, o[j][0] * inv0, o[j][1] * inv0);
    }
    if (row1 < tile.n_rows) {
      store2(out + (static_cast<size_t>(tile.tok0 + row1) * a.n_head + h) * HD + d, o[j][2] * inv1, o[j][3] * inv1);
    }
  }
}

template <int HD, typename OT>
cudaError_t launch_hd(const AttnArgs& a, const AttnTile* tiles, int n_tiles, cudaStream_t stream) {
  static std::atomic<uint64_t> smem_done{0};
  cudaError_t e = ensure_dynamic_smem(attn_prefill_kernel<HD, OT>, prefill_smem_bytes<HD>(), smem_done);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(n_tiles), static_cast<unsigned>(a.n_head));
  return launch_kernel(attn_prefill_kernel<HD, OT>, grid, dim3(kThreads), prefill_smem_bytes<HD>(), stream, a, tiles);
}

}  // namespace

bool attention_prefill_supported(int head_dim, DType kv_type, DType out_type) {
  return (head_dim == 64 || head_dim == 128) && kv_type == DType::f16 &&
         (out_type == DType::f16 || out_type == DType::bf16);
}

cudaError_t launch_attention_prefill(const AttnArgs& a, const AttnTile* tiles, int n_tiles, cudaStream_t stream) {
  if (n_tiles <= 0) return cudaSuccess;
  if (!attention_prefill_supported(a.head_dim, a.kv_type, a.out_type) || a.n_head_kv <= 0 ||
      a.n_head % a.n_head_kv != 0) {
    return cudaErrorInvalidValue;
  }
  if (a.head_dim == 64) {
    return a.out_type == DType::bf16 ? launch_hd<64, __nv_bfloat16>(a, tiles, n_tiles, stream)
                                     : launch_hd<64, __half>(a, tiles, n_tiles, stream);
  }
  return a.out_type == DType::bf16 ? launch_hd<128, __nv_bfloat16>(a, tiles, n_tiles, stream)
                                   : launch_hd<128, __half>(a, tiles, n_tiles, stream);
}

}  // namespace llmd::engine::cuda
