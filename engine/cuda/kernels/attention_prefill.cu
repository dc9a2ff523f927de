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

// Shared memory (f16 rows padded to HD+8 so that ldmatrix rows fall in
// distinct banks), in tiles of 64 rows:
//   single:          Q | K | V
//   double-buffered: K0 | V0 | K1 | V1, the query tile staged in K1 until
//                    every warp has its fragments in registers.
template <int HD>
constexpr size_t prefill_smem_bytes(bool double_buffered) {
  return static_cast<size_t>(double_buffered ? 4 * kBN : kBM + 2 * kBN) * (HD + 8) * sizeof(__half);
}

// S = Q K^T for this warp's 16 query rows and the 64 keys of Ks
// (s[j] holds keys 8j..8j+7 in the C-fragment layout of mma.cuh).
template <int HD>
__device__ __forceinline__ void tile_scores(const uint32_t (&qf)[HD / 16][4], const __half* Ks, int lane,
                                            float (&s)[kBN / 8][4]) {
  constexpr int LD = HD + 8;
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
}

// Running softmax state of the two query rows a thread holds (rows g and
// g+8 of the warp's 16): maxima in log2 units and this thread's share of the
// sums.
struct RowState {
  float m0 = -INFINITY, m1 = -INFINITY;
  float l0 = 0.0f, l1 = 0.0f;
};

// Causal mask of key tile `kbase` for query positions qpos0/qpos1 (also hides
// the zero-filled rows past the context), the online-softmax update of st and
// the rescale of o; leaves the probabilities in s. Key 0 is visible to every
// row, so the maxima are finite from the first tile on.
template <int HD>
__device__ __forceinline__ void softmax_update(float (&s)[kBN / 8][4], float (&o)[HD / 8][4], RowState& st,
                                               int kbase, int qpos0, int qpos1, int tq) {
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
  float mx0 = st.m0, mx1 = st.m1;
#pragma unroll
  for (int j = 0; j < kBN / 8; ++j) {
    mx0 = fmaxf(mx0, fmaxf(s[j][0], s[j][1]));
    mx1 = fmaxf(mx1, fmaxf(s[j][2], s[j][3]));
  }
  mx0 = fmaxf(mx0, __shfl_xor_sync(kFullMask, mx0, 1));
  mx0 = fmaxf(mx0, __shfl_xor_sync(kFullMask, mx0, 2));
  mx1 = fmaxf(mx1, __shfl_xor_sync(kFullMask, mx1, 1));
  mx1 = fmaxf(mx1, __shfl_xor_sync(kFullMask, mx1, 2));
  const float alpha0 = exp2f(st.m0 - mx0);
  const float alpha1 = exp2f(st.m1 - mx1);
  st.m0 = mx0;
  st.m1 = mx1;
  float rs0 = 0.0f, rs1 = 0.0f;
#pragma unroll
  for (int j = 0; j < kBN / 8; ++j) {
    s[j][0] = exp2f(s[j][0] - mx0);
    s[j][1] = exp2f(s[j][1] - mx0);
    s[j][2] = exp2f(s[j][2] - mx1);
    s[j][3] = exp2f(s[j][3] - mx1);
    rs0 += s[j][0] + s[j][1];
    rs1 += s[j][2] + s[j][3];
  }
  st.l0 = st.l0 * alpha0 + rs0;
  st.l1 = st.l1 * alpha1 + rs1;
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) {
    o[j][0] *= alpha0;
    o[j][1] *= alpha0;
    o[j][2] *= alpha1;
    o[j][3] *= alpha1;
  }
}

// o += P V for the 64 keys of Vs (P in s, rounded to f16).
template <int HD>
__device__ __forceinline__ void accumulate_pv(const float (&s)[kBN / 8][4], const __half* Vs, int lane,
                                              float (&o)[HD / 8][4]) {
  constexpr int LD = HD + 8;
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
}

// One block per (tile, query head): 4 warps of 16 query rows each, 64 keys
// per step. Scores are kept in log2 units (q pre-multiplied by
// scale*log2(e)). tile_major: grid (n_head, n_tiles), so the heaviest tiles
// of every head start first (else (n_tiles, n_head): head by head).
// kDouble: the next K/V tile is copied during the whole of the current one
// (two barriers per tile); else one K and one V buffer, the next K copied
// while the current V is used (four barriers per tile). Same arithmetic.
// Double-buffered, three blocks fit an SM (registers capped at 168, 3 x 68 KB
// of shared memory at HD 128); single-buffered, the registers allow two.
template <int HD, typename OT, bool kDouble>
__global__ void __launch_bounds__(kThreads, kDouble ? 3 : 1)
    attn_prefill_kernel(AttnArgs a, const AttnTile* __restrict__ tiles, bool tile_major) {
  pdl_wait();
  pdl_launch_dependents();
  constexpr int LD = HD + 8;
  constexpr int kTileElems = kBN * LD;  // one 64-row tile
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __half* const sm = reinterpret_cast<__half*>(smem_raw);
  __half* const Qs = kDouble ? sm + 2 * kTileElems : sm;
  __half* const K0 = kDouble ? sm : sm + kBM * LD;
  __half* const V0 = K0 + kTileElems;

  const AttnTile tile = tiles[tile_major ? blockIdx.y : blockIdx.x];
  const int h = tile_major ? blockIdx.x : blockIdx.y;
  const int kvh = h / (a.n_head / a.n_head_kv);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
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

  load_tile(kc, K0, 0);
  if constexpr (!kDouble) cp_async_commit();
  load_tile(vc, V0, 0);
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

  const int tq = lane & 3;
  const int row0 = warp * 16 + (lane >> 2);
  const int row1 = row0 + 8;
  const int qpos0 = tile.pos0 + min(row0, tile.n_rows - 1);
  const int qpos1 = tile.pos0 + min(row1, tile.n_rows - 1);

  float o[HD / 8][4];
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  RowState st;
  float s[kBN / 8][4];

  if constexpr (kDouble) {
    __syncthreads();  // every warp holds its query fragments: K1/V1 are free
    for (int kt = 0; kt < n_kt; ++kt) {
      const __half* Kc = sm + (kt & 1) * 2 * kTileElems;
      if (kt + 1 < n_kt) {
        __half* Kn = sm + ((kt + 1) & 1) * 2 * kTileElems;
        load_tile(kc, Kn, kt + 1);
        load_tile(vc, Kn + kTileElems, kt + 1);
      }
      cp_async_commit();   // (an empty group after the last tile)
      cp_async_wait<1>();  // tile kt has landed
      __syncthreads();
      tile_scores<HD>(qf, Kc, lane, s);
      softmax_update<HD>(s, o, st, kt * kBN, qpos0, qpos1, tq);
      accumulate_pv<HD>(s, Kc + kTileElems, lane, o);
      __syncthreads();  // every warp is done with this buffer: tile kt+2 may go there
    }
  } else {
    for (int kt = 0; kt < n_kt; ++kt) {
      cp_async_wait<1>();  // K tile kt has landed
      __syncthreads();
      tile_scores<HD>(qf, K0, lane, s);
      softmax_update<HD>(s, o, st, kt * kBN, qpos0, qpos1, tq);
      __syncthreads();  // every warp is done reading K tile kt
      if (kt + 1 < n_kt) load_tile(kc, K0, kt + 1);
      cp_async_commit();
      cp_async_wait<1>();  // V tile kt has landed (K tile kt+1 may be pending)
      __syncthreads();
      accumulate_pv<HD>(s, V0, lane, o);
      __syncthreads();  // every warp is done reading V tile kt
      if (kt + 1 < n_kt) load_tile(vc, V0, kt + 1);
      cp_async_commit();
    }
  }
  cp_async_wait<0>();

  float l0 = st.l0, l1 = st.l1;
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

template <int HD, typename OT, bool kDouble>
cudaError_t launch_variant(const AttnArgs& a, const AttnTile* tiles, int n_tiles, bool tile_major,
                           cudaStream_t stream) {
  static std::atomic<uint64_t> smem_done{0};
  const size_t smem = prefill_smem_bytes<HD>(kDouble);
  cudaError_t e = ensure_dynamic_smem(attn_prefill_kernel<HD, OT, kDouble>, smem, smem_done);
  if (e != cudaSuccess) return e;
  const unsigned nt = static_cast<unsigned>(n_tiles), nh = static_cast<unsigned>(a.n_head);
  const dim3 grid = tile_major ? dim3(nh, nt) : dim3(nt, nh);
  return launch_kernel(attn_prefill_kernel<HD, OT, kDouble>, grid, dim3(kThreads), smem, stream, a, tiles,
                       tile_major);
}

template <int HD, typename OT>
cudaError_t launch_hd(const AttnArgs& a, const AttnTile* tiles, int n_tiles, PrefillVariant v, cudaStream_t stream) {
  return v.double_buffered ? launch_variant<HD, OT, true>(a, tiles, n_tiles, v.tile_major, stream)
                           : launch_variant<HD, OT, false>(a, tiles, n_tiles, v.tile_major, stream);
}

}  // namespace

bool attention_prefill_supported(int head_dim, DType kv_type, DType out_type) {
  return (head_dim == 64 || head_dim == 128) && kv_type == DType::f16 &&
         (out_type == DType::f16 || out_type == DType::bf16);
}

cudaError_t launch_attention_prefill(const AttnArgs& a, const AttnTile* tiles, int n_tiles, cudaStream_t stream,
                                     PrefillVariant v) {
  if (n_tiles <= 0) return cudaSuccess;
  if (a.kv_q8_0 || !attention_prefill_supported(a.head_dim, a.kv_type, a.out_type) || a.n_head_kv <= 0 ||
      a.n_head % a.n_head_kv != 0 || n_tiles > 65535 || a.n_head > 65535) {
    return cudaErrorInvalidValue;
  }
  if (a.head_dim == 64) {
    return a.out_type == DType::bf16 ? launch_hd<64, __nv_bfloat16>(a, tiles, n_tiles, v, stream)
                                     : launch_hd<64, __half>(a, tiles, n_tiles, v, stream);
  }
  return a.out_type == DType::bf16 ? launch_hd<128, __nv_bfloat16>(a, tiles, n_tiles, v, stream)
                                   : launch_hd<128, __half>(a, tiles, n_tiles, v, stream);
}

}  // namespace llmd::engine::cuda
