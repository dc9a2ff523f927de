// Per-token paged attention (decode), with optional split of the key range
// across blocks and a merge kernel. See attention.hpp.
#include <algorithm>
#include <type_traits>

#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/kv_q8.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/rope.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

// Merging the splits: each split of a (token, query head) leaves its
// unnormalised output o_s [head_dim], its score maximum m_s and its sum of
// exponentials l_s; the result is
//   out = sum_s o_s * exp(m_s - m) / sum_s l_s * exp(m_s - m),  m = max_s m_s.
// The partials are read with ld.global.cg (L2): they are read once.

// Output element types are a run-time choice (stores are a small part of the
// work), which keeps the number of kernel instantiations down.
__device__ __forceinline__ void store_out(void* out, DType t, size_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(out)[i] = v; break;
    case DType::f16: static_cast<__half*>(out)[i] = __float2half_rn(v); break;
    case DType::bf16: static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v); break;
  }
}

// Called by one whole warp. Partial s of the (token, head) is p0 + s*n_head
// (part_ml [..][2] = m, l). Writes weight[s] = exp(m_s - m) for every split
// and returns 1 / sum_s l_s * weight[s] (in every lane). Each lane takes
// every 32nd split, so one round of loads covers 32 splits.
__device__ __forceinline__ float merge_weights(const float* __restrict__ part_ml, size_t p0, int n_head,
                                               int n_splits, float* weight, int lane) {
  float m = -INFINITY;
  for (int s = lane; s < n_splits; s += 32) m = fmaxf(m, __ldcg(part_ml + (p0 + static_cast<size_t>(s) * n_head) * 2));
  m = warp_max(m);
  float l = 0.0f;
  for (int s = lane; s < n_splits; s += 32) {
    const size_t pi = p0 + static_cast<size_t>(s) * n_head;
    const float e = expf(__ldcg(part_ml + pi * 2) - m);
    weight[s] = e;
    l += __ldcg(part_ml + pi * 2 + 1) * e;
  }
  l = warp_sum(l);
  return 1.0f / l;
}

// Dimension d of the merged output: the splits' partials weighted in split
// order, many loads in flight.
__device__ __forceinline__ float merge_dim(const float* __restrict__ part_o, size_t p0, int n_head, int hd,
                                           int n_splits, const float* weight, float inv_l, int d) {
  float o = 0.0f;
#pragma unroll 16
  for (int s = 0; s < n_splits; ++s) o += __ldcg(part_o + (p0 + static_cast<size_t>(s) * n_head) * hd + d) * weight[s];
  return o * inv_l;
}

// DPL consecutive elements at p as floats, in one vector load where the size
// allows (p is aligned to it: rows start at multiples of head_dim).
template <typename KT, int DPL>
__device__ __forceinline__ void load_dims(const KT* p, float* out) {
  constexpr int kBytes = DPL * static_cast<int>(sizeof(KT));
  if constexpr (std::is_same_v<KT, __half> && (kBytes == 8 || kBytes == 16)) {
    __half2 h[DPL / 2];
    if constexpr (kBytes == 8) *reinterpret_cast<uint2*>(h) = *reinterpret_cast<const uint2*>(p);
    else *reinterpret_cast<uint4*>(h) = *reinterpret_cast<const uint4*>(p);
#pragma unroll
    for (int i = 0; i < DPL / 2; ++i) {
      const float2 f = __half22float2(h[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  } else if constexpr (std::is_same_v<KT, int8_t>) {
    // q8_0 values: the caller applies the group's scale.
#pragma unroll
    for (int i = 0; i < DPL; ++i) out[i] = static_cast<float>(p[i]);
  } else if constexpr (std::is_same_v<KT, float> && kBytes == 16) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    out[0] = f.x; out[1] = f.y; out[2] = f.z; out[3] = f.w;
  } else {
#pragma unroll
    for (int i = 0; i < DPL; ++i) out[i] = to_float(p[i]);
  }
}

// Block: max(128, head_dim) threads. Work item: one query token, one KV head
// (all of its query heads), one split of the key range.
//
// DPL (value dims per lane) = head_dim / 32 when head_dim >= 32: each warp then
// takes every n_warps-th key of a tile and each lane accumulates DPL output
// dims of it, so many value rows are in flight at once; the warps' partial sums
// are added at the end. DPL = 0 (head_dim < 32): thread d owns output dim d and
// walks the keys in order.
//
// Shared memory (floats): q [G][hd] pre-scaled | scores [G][kAttnKeyTile]
// | running max [G] | running sum [G] |
// rescale factor [G] | (DPL > 0) warp partials [n_warps][hd].
template <typename KT, int DPL>
__global__ void __launch_bounds__(256) attn_tokens_kernel(AttnArgs a, const int32_t* __restrict__ token_idx,
                                                          const int32_t* __restrict__ split_len_p,
                                                          float* __restrict__ part_o, float* __restrict__ part_ml) {
  extern __shared__ float sm[];
  // The step's inputs (token list, positions, block tables, split length)
  // are copied in before its first kernel and written by none, so they are
  // read, and this block's first keys and values asked of L2 (an earlier
  // step wrote them, or the previous kernel is writing them through L2),
  // before waiting for the previous kernel: that wait is where a decode
  // step's attention spends its time.
  const int item = blockIdx.x;
  const int kvh = blockIdx.y;
  const int split = blockIdx.z;
  const int n_splits = gridDim.z;
  const int t = token_idx ? token_idx[item] : item;
  const int hd = a.head_dim;
  const int G = a.n_head / a.n_head_kv;
  const int ctx = a.pos[t] + 1;
  int k_begin = 0;
  int k_end = ctx;
  if (n_splits > 1) {
    const int sl = *split_len_p;
    k_begin = split * sl;
    k_end = min(ctx, k_begin + sl);
  }

  float* q_s = sm;
  float* s_s = q_s + G * hd;
  float* m_s = s_s + G * kAttnKeyTile;
  float* l_s = m_s + G;
  float* c_s = l_s + G;

  const int tid = threadIdx.x;
  const int n_warps = blockDim.x >> 5;
  const int32_t* bt = a.block_tables + static_cast<size_t>(a.seq[t]) * a.bt_stride;
  const int bs = a.block_size;
  const size_t head_stride = static_cast<size_t>(bs) * hd;  // elements of one (block, kv head)
  // KT int8_t: a q8_0 cache (kv_q8.hpp), whose blocks carry their scales
  // after the values; the block stride then exceeds n_head_kv head strides.
  constexpr bool kQ8 = std::is_same_v<KT, int8_t>;
  const KvQ8Layout q8{a.n_head_kv, bs, hd};
  const size_t block_stride = kQ8 ? q8.block_bytes() : static_cast<size_t>(a.n_head_kv) * head_stride;
  {
    const int rows = min(k_end - k_begin, kAttnKeyTile);
    const int lines = max(1, hd * static_cast<int>(sizeof(KT)) / 128);  // 128-byte lines per row
    for (int i = tid; i < rows * lines * 2; i += blockDim.x) {
      const int key = k_begin + i / (lines * 2);
      const int line = (i >> 1) % lines;
      const KT* cache = static_cast<const KT*>((i & 1) ? a.v_cache : a.k_cache);
      prefetch_l2(cache + static_cast<size_t>(bt[key / bs]) * block_stride + static_cast<size_t>(kvh) * head_stride +
                  static_cast<size_t>(key % bs) * hd + static_cast<size_t>(line) * (128 / sizeof(KT)));
    }
  }
  pdl_wait();
  pdl_launch_dependents();
  if (a.rope.qkv) {
    // RoPE here instead of in rope_kv (see AttnFusedRope): q as it is read,
    // and the token's own key and value by the block whose range holds them.
    const AttnFusedRope& r = a.rope;
    const float* row = r.qkv + static_cast<size_t>(t) * (a.n_head + 2 * a.n_head_kv) * hd;
    const float* cs = r.rope_cs + static_cast<size_t>(ctx - 1) * (r.rope_dim / 2) * 2;
#pragma unroll 4
    for (int i = tid; i < G * hd; i += blockDim.x) {
      const int h = i / hd;
      q_s[i] = rope_element(row, r.bias, kvh * G + h, hd, i - h * hd, r.rope_dim, r.neox, cs) * a.scale;
    }
    // Not with a q8_0 cache (launch_attention_tokens refuses the pair): its
    // rows are quantized by groups that launch_store_kv_q8 forms.
    if constexpr (!kQ8) if (k_begin <= ctx - 1 && ctx - 1 < k_end) {
      const size_t at = static_cast<size_t>(bt[(ctx - 1) / bs]) * block_stride + static_cast<size_t>(kvh) * head_stride +
                        static_cast<size_t>((ctx - 1) % bs) * hd;
      const float* vrow = row + static_cast<size_t>(a.n_head + a.n_head_kv + kvh) * hd;
      for (int e = tid; e < hd; e += blockDim.x) {
        static_cast<KT*>(a.k_cache)[at + e] =
            from_float<KT>(rope_element(row, r.bias, a.n_head + kvh, hd, e, r.rope_dim, r.neox, cs));
        const size_t vb = static_cast<size_t>(a.n_head + a.n_head_kv + kvh) * hd + e;
        static_cast<KT*>(a.v_cache)[at + e] = from_float<KT>(r.bias ? vrow[e] + r.bias[vb] : vrow[e]);
      }
    }
  } else {
    const float* qg = a.q + (static_cast<size_t>(t) * a.n_head + static_cast<size_t>(kvh) * G) * hd;
#pragma unroll 4
    for (int i = tid; i < G * hd; i += blockDim.x) q_s[i] = qg[i] * a.scale;
  }
  if (tid < G) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }
  __syncthreads();  // q, and this block's own key and value (read back below)

  const KT* kc = static_cast<const KT*>(a.k_cache);
  const KT* vc = static_cast<const KT*>(a.v_cache);
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int TL = hd >> 3;    // lanes per key row, each holding 8 elements
  const int kpw = 32 / TL;   // key rows per warp step
  const int team = lane / TL;
  const int tl = lane - team * TL;

  constexpr int kD = DPL > 0 ? DPL : 1;
  // Loads in flight in the key and value loops below; the smaller head dims
  // (more accumulators per lane relative to their loads) stay shallower to
  // keep out of local memory.
  constexpr int kDeepK = DPL >= 4 ? 8 : 4;
  constexpr int kDeepV = DPL >= 4 ? 8 : 2;
  float acc[kAttnMaxGroup];       // DPL == 0
  float accv[kAttnMaxGroup][kD];  // DPL > 0
#pragma unroll
  for (int h = 0; h < kAttnMaxGroup; ++h) {
    acc[h] = 0.0f;
#pragma unroll
    for (int i = 0; i < kD; ++i) accv[h][i] = 0.0f;
  }

  for (int kt = k_begin; kt < k_end; kt += kAttnKeyTile) {
    const int nk = min(kAttnKeyTile, k_end - kt);

    // Scores: a team of TL lanes per key row; control flow is uniform per warp
    // so the team reductions can use full-warp shuffles.
#pragma unroll kDeepK
    for (int j0 = warp * kpw; j0 < nk; j0 += n_warps * kpw) {
      const int j = j0 + team;
      const bool valid = j < nk;
      const int key = kt + (valid ? j : 0);
      const int blk = bt[key / bs];
      const KT* krow = kc + static_cast<size_t>(blk) * block_stride + static_cast<size_t>(kvh) * head_stride +
                       static_cast<size_t>(key % bs) * hd + tl * 8;
      float kv[8];
      if constexpr (kQ8) {
        // Eight int8 keys in one load, times their group's f16 scale: d * q
        // exactly, the key as quantized.
        const uint2 raw = *reinterpret_cast<const uint2*>(krow);
        const float d = __half2float(*reinterpret_cast<const __half*>(
            reinterpret_cast<const char*>(kc) + q8.scale(blk, kvh, key % bs, tl * 8 / kKvQ8Group)));
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const uint32_t w = i < 4 ? raw.x : raw.y;
          kv[i] = d * static_cast<float>(static_cast<int8_t>((w >> (8 * (i & 3))) & 0xffu));
        }
      } else {
        load8(krow, kv);
      }
#pragma unroll
      for (int h = 0; h < kAttnMaxGroup; ++h) {
        if (h < G) {
          const float* qh = q_s + h * hd + tl * 8;
          float d = 0.0f;
#pragma unroll
          for (int i = 0; i < 8; ++i) d += kv[i] * qh[i];
          for (int o = TL >> 1; o > 0; o >>= 1) d += __shfl_xor_sync(kFullMask, d, o);
          if (valid && tl == 0) s_s[h * kAttnKeyTile + j] = d;
        }
      }
    }
    __syncthreads();

    // Online softmax per query head: one warp per head.
    for (int h = warp; h < G; h += n_warps) {
      float* sh = s_s + h * kAttnKeyTile;
      float mx = -INFINITY;
      for (int j = lane; j < nk; j += 32) mx = fmaxf(mx, sh[j]);
      mx = warp_max(mx);
      const float m_old = m_s[h];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
      for (int j = lane; j < nk; j += 32) {
        const float p = expf(sh[j] - m_new);
        sh[j] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float c = expf(m_old - m_new);
        c_s[h] = c;
        l_s[h] = l_s[h] * c + sum;
        m_s[h] = m_new;
      }
    }
    __syncthreads();

    if constexpr (DPL > 0) {
      // Weighted values: warp w takes keys w, w + n_warps, ...; lane l owns
      // dims [l * DPL, (l + 1) * DPL) of every query head.
#pragma unroll
      for (int h = 0; h < kAttnMaxGroup; ++h) {
        if (h < G) {
          const float c = c_s[h];
#pragma unroll
          for (int i = 0; i < DPL; ++i) accv[h][i] *= c;
        }
      }
      // Unrolled deep enough that a warp's value rows of a whole tile are
      // loaded before the first is used (one memory round trip, not many).
#pragma unroll kDeepV
      for (int j = warp; j < nk; j += n_warps) {
        const int key = kt + j;
        const int blk = bt[key / bs];
        const KT* vrow = vc + static_cast<size_t>(blk) * block_stride + static_cast<size_t>(kvh) * head_stride +
                         static_cast<size_t>(key % bs) * hd + lane * DPL;
        float v[DPL];
        load_dims<KT, DPL>(vrow, v);
        if constexpr (kQ8) {
          const float d = __half2float(*reinterpret_cast<const __half*>(
              reinterpret_cast<const char*>(vc) + q8.scale(blk, kvh, key % bs, lane * DPL / kKvQ8Group)));
#pragma unroll
          for (int i = 0; i < DPL; ++i) v[i] *= d;
        }
#pragma unroll
        for (int h = 0; h < kAttnMaxGroup; ++h) {
          if (h < G) {
            const float p = s_s[h * kAttnKeyTile + j];
#pragma unroll
            for (int i = 0; i < DPL; ++i) accv[h][i] += p * v[i];
          }
        }
      }
    } else {
    // Weighted values: thread d owns output dimension d of every query head.
#pragma unroll
    for (int h = 0; h < kAttnMaxGroup; ++h) {
      if (h < G) acc[h] *= c_s[h];
    }
    if (tid < hd) {
#pragma unroll 4
      for (int j = 0; j < nk; ++j) {
        const int key = kt + j;
        const int blk = bt[key / bs];
        const float v = to_float(vc[static_cast<size_t>(blk) * block_stride + static_cast<size_t>(kvh) * head_stride +
                                    static_cast<size_t>(key % bs) * hd + tid]);
#pragma unroll
        for (int h = 0; h < kAttnMaxGroup; ++h) {
          if (h < G) acc[h] += s_s[h * kAttnKeyTile + j] * v;
        }
      }
    }
    }
    __syncthreads();
  }

  if constexpr (DPL > 0) {
    // Add up the warps' partial sums, one query head at a time.
    float* red = c_s + G;
#pragma unroll
    for (int h = 0; h < kAttnMaxGroup; ++h) {
      if (h >= G) break;
#pragma unroll
      for (int i = 0; i < DPL; ++i) red[warp * hd + lane * DPL + i] = accv[h][i];
      __syncthreads();
      if (tid < hd) {
        float o = 0.0f;
        for (int w = 0; w < n_warps; ++w) o += red[w * hd + tid];
        acc[h] = o;
      }
      __syncthreads();
    }
  }

  if (tid < hd) {
#pragma unroll
    for (int h = 0; h < kAttnMaxGroup; ++h) {
      if (h < G) {
        const int head = kvh * G + h;
        if (n_splits == 1) {
          store_out(a.out, a.out_type, (static_cast<size_t>(t) * a.n_head + head) * hd + tid, acc[h] / l_s[h]);
        } else {
          const size_t pi = (static_cast<size_t>(item) * n_splits + split) * a.n_head + head;
          part_o[pi * hd + tid] = acc[h];
          if (tid == 0) {
            part_ml[pi * 2] = m_s[h];
            part_ml[pi * 2 + 1] = l_s[h];
          }
        }
      }
    }
  }
}

// Merges the splits of one (token, query head). Warp 0 takes the splits' maxima
// and sums 32 at a time (one round of loads per 32 splits, not one per split)
// and leaves each split's weight exp(m_s - m) in shared memory; then every
// thread adds its dims of the partial outputs, many splits' loads in flight.
// Shared memory: n_splits floats.
__global__ void attn_combine_kernel(const int32_t* __restrict__ token_idx, int n_splits, int n_head, int hd,
                                    const float* __restrict__ part_o, const float* __restrict__ part_ml, void* out,
                                    DType out_type) {
  extern __shared__ float weight[];
  __shared__ float inv_l;
  pdl_wait();
  pdl_launch_dependents();
  const int item = blockIdx.x;
  const int head = blockIdx.y;
  const int t = token_idx ? token_idx[item] : item;
  const size_t p0 = static_cast<size_t>(item) * n_splits * n_head + head;  // partial of split s: p0 + s*n_head
  if (threadIdx.x < 32) {
    const float inv = merge_weights(part_ml, p0, n_head, n_splits, weight, static_cast<int>(threadIdx.x));
    if (threadIdx.x == 0) inv_l = inv;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    store_out(out, out_type, (static_cast<size_t>(t) * n_head + head) * hd + d,
              merge_dim(part_o, p0, n_head, hd, n_splits, weight, inv_l, d));
  }
}

template <typename KT>
cudaError_t launch_typed(const AttnArgs& a, const int32_t* token_idx, int n_items, int n_splits,
                         const int32_t* split_len, float* part_o, float* part_ml, cudaStream_t stream) {
  const int G = a.n_head / a.n_head_kv;
  const int threads = a.head_dim > 128 ? 256 : 128;
  const int dpl = a.head_dim >= 32 ? a.head_dim / 32 : 0;
  size_t smem = (static_cast<size_t>(G) * a.head_dim + static_cast<size_t>(G) * kAttnKeyTile + 3 * G) *
                sizeof(float);
  if (dpl > 0) smem += static_cast<size_t>(threads / 32) * a.head_dim * sizeof(float);
  const dim3 grid(static_cast<unsigned>(n_items), static_cast<unsigned>(a.n_head_kv),
                  static_cast<unsigned>(n_splits));
  cudaError_t e = cudaSuccess;
  switch (dpl) {
    case 0:
      if constexpr (std::is_same_v<KT, int8_t>) return cudaErrorInvalidValue;  // q8_0 rows are whole groups of 32
      else e = launch_kernel(attn_tokens_kernel<KT, 0>, grid, dim3(threads), smem, stream, a, token_idx, split_len, part_o, part_ml);
      break;
    case 1: e = launch_kernel(attn_tokens_kernel<KT, 1>, grid, dim3(threads), smem, stream, a, token_idx, split_len, part_o, part_ml); break;
    case 2: e = launch_kernel(attn_tokens_kernel<KT, 2>, grid, dim3(threads), smem, stream, a, token_idx, split_len, part_o, part_ml); break;
    case 4: e = launch_kernel(attn_tokens_kernel<KT, 4>, grid, dim3(threads), smem, stream, a, token_idx, split_len, part_o, part_ml); break;
    case 8: e = launch_kernel(attn_tokens_kernel<KT, 8>, grid, dim3(threads), smem, stream, a, token_idx, split_len, part_o, part_ml); break;
    default: return cudaErrorInvalidValue;
  }
  if (e != cudaSuccess || n_splits == 1) return e;
  const dim3 cgrid(static_cast<unsigned>(n_items), static_cast<unsigned>(a.n_head));
  return launch_kernel(attn_combine_kernel, cgrid, dim3(a.head_dim > 128 ? 256 : 128),
                       static_cast<size_t>(n_splits) * sizeof(float), stream, token_idx, n_splits,
                       a.n_head, a.head_dim, static_cast<const float*>(part_o), static_cast<const float*>(part_ml),
                       a.out, a.out_type);
}

}  // namespace

bool attention_tokens_supported(int head_dim, int n_head, int n_head_kv) {
  if (n_head_kv <= 0 || n_head % n_head_kv != 0 || n_head / n_head_kv > kAttnMaxGroup) return false;
  switch (head_dim) {
    case 8: case 16: case 32: case 64: case 128: case 256: return true;
    default: return false;
  }
}

AttnSplit choose_attention_split(int n_items, int n_head_kv, int max_ctx, int sm_count, int max_partials,
                                 int long_ctx, int split_keys) {
  AttnSplit s;
  if (n_items <= 0) return s;
  const long blocks = static_cast<long>(n_items) * n_head_kv;
  const long target = 2L * std::max(sm_count, 1);
  long n = 1;
  if (blocks < target) {
    n = (target + blocks - 1) / blocks;
    if (max_ctx > 0) n = std::min<long>(n, (max_ctx + kAttnSplitGranule - 1) / kAttnSplitGranule);
  }
  if (split_keys > 0 && long_ctx > split_keys) n = std::max<long>(n, (long_ctx + split_keys - 1) / split_keys);
  n = std::min<long>(n, 32);
  n = std::min<long>(n, max_partials / std::max(n_items, 1));
  s.n_splits = static_cast<int>(std::max<long>(n, 1));
  return s;
}

int attention_split_len(int max_ctx, int n_splits) {
  if (n_splits <= 1) return std::max(max_ctx, 1);
  int per = (max_ctx + n_splits - 1) / n_splits;
  per = (per + kAttnSplitGranule - 1) / kAttnSplitGranule * kAttnSplitGranule;
  return std::max(per, kAttnSplitGranule);
}

cudaError_t launch_attention_tokens(const AttnArgs& a, const int32_t* token_idx, int n_items, int n_splits,
                                    const int32_t* split_len, float* part_o, float* part_ml, cudaStream_t stream) {
  if (n_items <= 0) return cudaSuccess;
  if (!attention_tokens_supported(a.head_dim, a.n_head, a.n_head_kv) || n_splits < 1 || n_splits > kAttnMaxSplits ||
      (n_splits > 1 && (!split_len || !part_o || !part_ml))) {
    return cudaErrorInvalidValue;
  }
  if (a.out_type != DType::f32 && a.out_type != DType::f16 && a.out_type != DType::bf16) return cudaErrorInvalidValue;
  if (a.rope.qkv && (!a.rope.rope_cs || a.rope.rope_dim < 0 || a.rope.rope_dim > a.head_dim || (a.rope.rope_dim & 1))) {
    return cudaErrorInvalidValue;
  }
  if (a.kv_q8_0) {
    if (!KvQ8Layout{a.n_head_kv, a.block_size, a.head_dim}.valid() || a.rope.qkv) return cudaErrorInvalidValue;
    return launch_typed<int8_t>(a, token_idx, n_items, n_splits, split_len, part_o, part_ml, stream);
  }
  if (a.kv_type == DType::f16) {
    return launch_typed<__half>(a, token_idx, n_items, n_splits, split_len, part_o, part_ml, stream);
  }
  if (a.kv_type == DType::f32) {
    return launch_typed<float>(a, token_idx, n_items, n_splits, split_len, part_o, part_ml, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace llmd::engine::cuda
