// Tensor-core flash attention for prefill chunks, 32 query rows per warp.
//
// Same contract, tiles and results as attention_prefill.cu (64 queries per
// tile, 64 keys per step), but two warps share a tile and each owns two 16-row
// MMA tiles: every K and V fragment a warp loads from shared memory feeds two
// MMAs instead of one, halving the shared-memory reads per FLOP (with 16 rows
// per warp the kernel reads 32 KB of K/V fragments per 0.5 MFLOP). The query
// tile stays in shared memory and its fragments are reloaded per 16-wide
// slice, which keeps the registers at O [2][HD/8][4] + S [2][8][4].
// Chosen with CudaBackendOptions::prefill_rows_per_warp = 32.
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

constexpr int kBM = 64;       // queries per tile (AttnTile::n_rows <= 64)
constexpr int kBN = kPrefillKeys;  // keys per step (64)
constexpr int kMT = 2;        // 16-row MMA tiles per warp
constexpr int kWarps = kBM / (16 * kMT);
constexpr int kThreads = kWarps * 32;

template <int HD>
constexpr size_t wide_smem_bytes() {
  return static_cast<size_t>(kBM + 2 * kBN) * (HD + 8) * sizeof(__half);
}

// Grid: (n_tiles, n_head), kThreads threads. Shared memory (f16, rows padded
// to HD+8): Q [64][HD+8] | K [64][HD+8] | V [64][HD+8]. Warp w owns query rows
// 32w..32w+31: MMA tile mt covers rows 32w+16mt..+15. Scores in log2 units.
template <int HD, typename OT>
__global__ void __launch_bounds__(kThreads) attn_prefill_wide_kernel(AttnArgs a,
                                                                     const AttnTile* __restrict__ tiles) {
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

  const int g = lane >> 2;
  const int tq = lane & 3;
  // Rows g and g+8 of each MMA tile; past-the-end rows take the last row's
  // position (their results are not stored).
  int qpos[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    const int r0 = warp * 16 * kMT + mt * 16 + g;
    qpos[mt][0] = tile.pos0 + min(r0, tile.n_rows - 1);
    qpos[mt][1] = tile.pos0 + min(r0 + 8, tile.n_rows - 1);
  }

  float o[kMT][HD / 8][4];
  float m[kMT][2];
  float l[kMT][2];  // this thread's share of the running sums
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) o[mt][j][0] = o[mt][j][1] = o[mt][j][2] = o[mt][j][3] = 0.0f;
    m[mt][0] = m[mt][1] = -INFINITY;
    l[mt][0] = l[mt][1] = 0.0f;
  }

  for (int kt = 0; kt < n_kt; ++kt) {
    cp_async_wait<1>();  // K tile kt has landed
    __syncthreads();

    float s[kMT][kBN / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.0f;
    }
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      uint32_t qa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        const int row = warp * 16 * kMT + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int col = kk * 16 + (lane >> 4) * 8;
        ldmatrix_x4(qa[mt], Qs + row * LD + col);
      }
#pragma unroll
      for (int np = 0; np < kBN / 16; ++np) {
        uint32_t b[4];
        const int key = np * 16 + (lane & 7) + (lane >> 4) * 8;
        const int col = kk * 16 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(b, Ks + key * LD + col);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_f16_16816(s[mt][2 * np], qa[mt], b[0], b[1]);
          mma_f16_16816(s[mt][2 * np + 1], qa[mt], b[2], b[3]);
        }
      }
    }

    const int kbase = kt * kBN;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      // Causal mask (also hides the zero-filled rows past kv_len).
      const int qp0 = qpos[mt][0];
      const int qp1 = qpos[mt][1];
      if (kbase + kBN - 1 > qp0 || kbase + kBN - 1 > qp1) {
#pragma unroll
        for (int j = 0; j < kBN / 8; ++j) {
          const int key = kbase + j * 8 + 2 * tq;
          if (key > qp0) s[mt][j][0] = -INFINITY;
          if (key + 1 > qp0) s[mt][j][1] = -INFINITY;
          if (key > qp1) s[mt][j][2] = -INFINITY;
          if (key + 1 > qp1) s[mt][j][3] = -INFINITY;
        }
      }
      // Online softmax; key 0 is visible to every row, so maxima are finite.
      float mx0 = m[mt][0], mx1 = m[mt][1];
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
        mx0 = fmaxf(mx0, fmaxf(s[mt][j][0], s[mt][j][1]));
        mx1 = fmaxf(mx1, fmaxf(s[mt][j][2], s[mt][j][3]));
      }
      mx0 = fmaxf(mx0, __shfl_xor_sync(kFullMask, mx0, 1));
      mx0 = fmaxf(mx0, __shfl_xor_sync(kFullMask, mx0, 2));
      mx1 = fmaxf(mx1, __shfl_xor_sync(kFullMask, mx1, 1));
      mx1 = fmaxf(mx1, __shfl_xor_sync(kFullMask, mx1, 2));
      const float alpha0 = exp2f(m[mt][0] - mx0);
      const float alpha1 = exp2f(m[mt][1] - mx1);
      m[mt][0] = mx0;
      m[mt][1] = mx1;
      float rs0 = 0.0f, rs1 = 0.0f;
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
        s[mt][j][0] = exp2f(s[mt][j][0] - mx0);
        s[mt][j][1] = exp2f(s[mt][j][1] - mx0);
        s[mt][j][2] = exp2f(s[mt][j][2] - mx1);
        s[mt][j][3] = exp2f(s[mt][j][3] - mx1);
        rs0 += s[mt][j][0] + s[mt][j][1];
        rs1 += s[mt][j][2] + s[mt][j][3];
      }
      l[mt][0] = l[mt][0] * alpha0 + rs0;
      l[mt][1] = l[mt][1] * alpha1 + rs1;
#pragma unroll
      for (int j = 0; j < HD / 8; ++j) {
        o[mt][j][0] *= alpha0;
        o[mt][j][1] *= alpha0;
        o[mt][j][2] *= alpha1;
        o[mt][j][3] *= alpha1;
      }
    }

    __syncthreads();  // every warp is done reading K tile kt
    if (kt + 1 < n_kt) load_tile(kc, Ks, kt + 1);
    cp_async_commit();
    cp_async_wait<1>();  // V tile kt has landed (K tile kt+1 may be pending)
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t pa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        pa[mt][0] = pack_half2(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pa[mt][1] = pack_half2(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pa[mt][2] = pack_half2(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pa[mt][3] = pack_half2(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < HD / 16; ++dp) {
        uint32_t b[4];
        const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int col = dp * 16 + (lane >> 4) * 8;
        ldmatrix_x4_trans(b, Vs + key * LD + col);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_f16_16816(o[mt][2 * dp], pa[mt], b[0], b[1]);
          mma_f16_16816(o[mt][2 * dp + 1], pa[mt], b[2], b[3]);
        }
      }
    }

    __syncthreads();  // every warp is done reading V tile kt
    if (kt + 1 < n_kt) load_tile(vc, Vs, kt + 1);
    cp_async_commit();
  }
  cp_async_wait<0>();

  OT* out = static_cast<OT*>(a.out);
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    float l0 = l[mt][0], l1 = l[mt][1];
    l0 += __shfl_xor_sync(kFullMask, l0, 1);
    l0 += __shfl_xor_sync(kFullMask, l0, 2);
    l1 += __shfl_xor_sync(kFullMask, l1, 1);
    l1 += __shfl_xor_sync(kFullMask, l1, 2);
    const float inv0 = 1.0f / l0;
    const float inv1 = 1.0f / l1;
    const int row0 = warp * 16 * kMT + mt * 16 + g;
    const int row1 = row0 + 8;
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) {
      const int d = j * 8 + 2 * tq;
      if (row0 < tile.n_rows) {
        store2(out + (static_cast<size_t>(tile.tok0 + row0) * a.n_head + h) * HD + d, o[mt][j][0] * inv0,
               o[mt][j][1] * inv0);
      }
      if (row1 < tile.n_rows) {
        store2(out + (static_cast<size_t>(tile.tok0 + row1) * a.n_head + h) * HD + d, o[mt][j][2] * inv1,
               o[mt][j][3] * inv1);
      }
    }
  }
}

template <int HD, typename OT>
cudaError_t launch_wide_hd(const AttnArgs& a, const AttnTile* tiles, int n_tiles, cudaStream_t stream) {
  static std::atomic<uint64_t> smem_done{0};
  cudaError_t e = ensure_dynamic_smem(attn_prefill_wide_kernel<HD, OT>, wide_smem_bytes<HD>(), smem_done);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(n_tiles), static_cast<unsigned>(a.n_head));
  return launch_kernel(attn_prefill_wide_kernel<HD, OT>, grid, dim3(kThreads), wide_smem_bytes<HD>(), stream, a,
                       tiles);
}

}  // namespace

cudaError_t launch_attention_prefill_wide(const AttnArgs& a, const AttnTile* tiles, int n_tiles,
                                          cudaStream_t stream) {
  if (n_tiles <= 0) return cudaSuccess;
  if (!attention_prefill_supported(a.head_dim, a.kv_type, a.out_type) || a.n_head_kv <= 0 ||
      a.n_head % a.n_head_kv != 0) {
    return cudaErrorInvalidValue;
  }
  if (a.head_dim == 64) {
    return a.out_type == DType::bf16 ? launch_wide_hd<64, __nv_bfloat16>(a, tiles, n_tiles, stream)
                                     : launch_wide_hd<64, __half>(a, tiles, n_tiles, stream);
  }
  return a.out_type == DType::bf16 ? launch_wide_hd<128, __nv_bfloat16>(a, tiles, n_tiles, stream)
                                   : launch_wide_hd<128, __half>(a, tiles, n_tiles, stream);
}

}  // namespace llmd::engine::cuda
