#include <algorithm>

#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/kv_q8.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/rope.cuh"
#include "engine/cuda/kernels/rope_kv.hpp"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

// One block per (token, group of HPT heads): heads 0..n_head-1 are queries,
// the next n_head_kv keys (both rotate); a key head also copies the matching
// value head. Decode steps (few tokens) take HPT = 1: many small blocks, so
// the few tokens spread over the device and each thread has a couple of
// elements to load. Prefill steps take HPT = 4: each thread loads its
// elements of four heads before it computes or stores any, four times the
// bytes in flight (stores could otherwise alias the next head's loads), and
// a quarter of the blocks. The arithmetic per element is the same either way.
template <typename KT, int HPT>
__global__ void rope_kv_kernel(RopeKvArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x;
  const int h0 = blockIdx.y * HPT;
  const int heads = a.n_head + a.n_head_kv;
  const int hd = a.head_dim;
  const int width = heads * hd + a.n_head_kv * hd;
  const float* in = a.qkv + static_cast<size_t>(t) * width;
  const int pos = a.pos[t];
  const int blk = a.block_tables[static_cast<size_t>(a.seq[t]) * a.bt_stride + pos / a.block_size];
  const int slot = pos % a.block_size;
  const int half_rot = a.rope_dim / 2;
  const float* cs = a.rope_cs + static_cast<size_t>(pos) * half_rot * 2;

  // Where head h0 + j writes: its query row, or its key row in the cache
  // (neither past the last head).
  float* qrow[HPT];
  KT* krow[HPT];
  KT* vrow[HPT];
#pragma unroll
  for (int j = 0; j < HPT; ++j) {
    const int h = h0 + j;
    const bool is_q = h < a.n_head;
    const bool is_k = !is_q && h < heads;
    qrow[j] = is_q ? a.q_out + (static_cast<size_t>(t) * a.n_head + h) * hd : nullptr;
    krow[j] = vrow[j] = nullptr;
    if (is_k && a.kv_rows) {  // the q8_0 cache's staging rows (KT is float)
      krow[j] = reinterpret_cast<KT*>(a.kv_rows) + (static_cast<size_t>(t) * 2 * a.n_head_kv + (h - a.n_head)) * hd;
      vrow[j] = krow[j] + static_cast<size_t>(a.n_head_kv) * hd;
    } else if (is_k) {
      const size_t off = ((static_cast<size_t>(blk) * a.n_head_kv + (h - a.n_head)) * a.block_size + slot) * hd;
      krow[j] = static_cast<KT*>(a.k_cache) + off;
      vrow[j] = static_cast<KT*>(a.v_cache) + off;
    }
  }
  auto input = [&](int h, int e) { return a.bias ? in[h * hd + e] + a.bias[h * hd + e] : in[h * hd + e]; };
  auto put = [&](int j, int e, float v) {
    if (qrow[j]) qrow[j][e] = v;
    else krow[j][e] = from_float<KT>(v);
  };

  // Rotating pairs.
  for (int i = threadIdx.x; i < half_rot; i += blockDim.x) {
    const int e0 = a.neox ? i : 2 * i;
    const int e1 = a.neox ? i + half_rot : 2 * i + 1;
    float x0[HPT], x1[HPT];
#pragma unroll
    for (int j = 0; j < HPT; ++j) {
      if (h0 + j < heads) {
        x0[j] = input(h0 + j, e0);
        x1[j] = input(h0 + j, e1);
      }
    }
    const float c = cs[2 * i], sn = cs[2 * i + 1];
#pragma unroll
    for (int j = 0; j < HPT; ++j) {
      if (h0 + j < heads) {
        float y0, y1;
        rope_rotate(x0[j], x1[j], c, sn, y0, y1);
        put(j, e0, y0);
        put(j, e1, y1);
      }
    }
  }
  // Dimensions past rope_dim pass through unrotated.
  for (int e = a.rope_dim + threadIdx.x; e < hd; e += blockDim.x) {
    float x[HPT];
#pragma unroll
    for (int j = 0; j < HPT; ++j) {
      if (h0 + j < heads) x[j] = input(h0 + j, e);
    }
#pragma unroll
    for (int j = 0; j < HPT; ++j) {
      if (h0 + j < heads) put(j, e, x[j]);
    }
  }
  // The value heads that go with the key heads.
  for (int e = threadIdx.x; e < hd; e += blockDim.x) {
    float v[HPT];
#pragma unroll
    for (int j = 0; j < HPT; ++j) {
      if (h0 + j < heads && krow[j]) v[j] = input(a.n_head_kv + h0 + j, e);
    }
#pragma unroll
    for (int j = 0; j < HPT; ++j) {
      if (h0 + j < heads && krow[j]) vrow[j][e] = from_float<KT>(v[j]);
    }
  }
}

// Block (token, kv head), one thread per element: warp w quantizes group w
// of the key row, then of the value row.
__global__ void store_kv_q8_kernel(RopeKvArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x, kvh = blockIdx.y, e = threadIdx.x;
  const int hd = a.head_dim;
  const int pos = a.pos[t];
  const int blk = a.block_tables[static_cast<size_t>(a.seq[t]) * a.bt_stride + pos / a.block_size];
  const int slot = pos % a.block_size;
  const KvQ8Layout L{a.n_head_kv, a.block_size, hd};
#pragma unroll
  for (int kv = 0; kv < 2; ++kv) {
    const float x = a.kv_rows[(static_cast<size_t>(t) * 2 + kv) * a.n_head_kv * hd + static_cast<size_t>(kvh) * hd + e];
    const float d = kv_q8_scale(warp_max(fabsf(x)));
    char* base = static_cast<char*>(kv ? a.v_cache : a.k_cache);
    base[L.row(blk, kvh, slot) + static_cast<size_t>(e)] = static_cast<char>(kv_q8_value(x, kv_q8_inverse(d)));
    if ((e & 31) == 0) *reinterpret_cast<__half*>(base + L.scale(blk, kvh, slot, e / kKvQ8Group)) = __float2half_rn(d);
  }
}

__global__ void rope_table_kernel(const double* __restrict__ inv_freq, int half, int n_pos, float* __restrict__ cs) {
  const size_t n = static_cast<size_t>(n_pos) * half;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t p = idx / half;
    const int i = static_cast<int>(idx - p * half);
    const double ang = static_cast<double>(p) * inv_freq[i];
    cs[2 * idx] = static_cast<float>(cos(ang));
    cs[2 * idx + 1] = static_cast<float>(sin(ang));
  }
}

__global__ void copy_kv_block_kernel(char* pool, size_t half_bytes, size_t block_bytes, int src, int dst) {
  char* half = pool + static_cast<size_t>(blockIdx.x) * half_bytes;
  const uint4* from = reinterpret_cast<const uint4*>(half + static_cast<size_t>(src) * block_bytes);
  uint4* to = reinterpret_cast<uint4*>(half + static_cast<size_t>(dst) * block_bytes);
  for (size_t i = threadIdx.x; i < block_bytes / 16; i += blockDim.x) to[i] = from[i];
}

}  // namespace

cudaError_t launch_copy_kv_block(void* pool, size_t half_bytes, int n_halves, size_t block_bytes, int src, int dst,
                                 cudaStream_t stream) {
  if (n_halves <= 0 || src == dst) return cudaSuccess;
  if (block_bytes % 16 != 0) return cudaErrorInvalidValue;
  copy_kv_block_kernel<<<n_halves, 256, 0, stream>>>(static_cast<char*>(pool), half_bytes, block_bytes, src, dst);
  return cudaGetLastError();
}

cudaError_t launch_rope_table(const double* inv_freq, int half, int n_pos, float* cs, cudaStream_t stream) {
  if (half <= 0 || n_pos <= 0) return cudaSuccess;
  const size_t n = static_cast<size_t>(n_pos) * half;
  size_t blocks = (n + 255) / 256;
  if (blocks > 65535) blocks = 65535;
  rope_table_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(inv_freq, half, n_pos, cs);
  return cudaGetLastError();
}

cudaError_t launch_rope_kv(const RopeKvArgs& a, cudaStream_t stream) {
  if (a.n_tokens <= 0) return cudaSuccess;
  if (a.rope_dim < 0 || a.rope_dim > a.head_dim || (a.rope_dim & 1) || a.block_size <= 0) {
    return cudaErrorInvalidValue;
  }
  const int heads = a.n_head + a.n_head_kv;
  if (heads <= 0 || heads > 65535 || a.head_dim <= 0) return cudaErrorInvalidValue;
  if (!a.kv_rows && a.kv_type != DType::f16 && a.kv_type != DType::f32) return cudaErrorInvalidValue;
  // A thread per rotating pair (two value elements each) of one head, or of
  // four heads in prefill-sized steps (see the kernel).
  const bool wide = a.n_tokens >= kRopeKvWideTokens;
  const int hpt = wide ? 4 : 1;
  const dim3 grid(static_cast<unsigned>(a.n_tokens), static_cast<unsigned>((heads + hpt - 1) / hpt));
  const dim3 block(static_cast<unsigned>(std::min(128, std::max(32, a.head_dim / 2))));
  if (a.kv_type == DType::f16 && !a.kv_rows) {
    return wide ? launch_kernel(rope_kv_kernel<__half, 4>, grid, block, 0, stream, a)
                : launch_kernel(rope_kv_kernel<__half, 1>, grid, block, 0, stream, a);
  }
  return wide ? launch_kernel(rope_kv_kernel<float, 4>, grid, block, 0, stream, a)
              : launch_kernel(rope_kv_kernel<float, 1>, grid, block, 0, stream, a);
}

cudaError_t launch_store_kv_q8(const RopeKvArgs& a, cudaStream_t stream) {
  if (a.n_tokens <= 0) return cudaSuccess;
  if (!a.kv_rows || !KvQ8Layout{a.n_head_kv, a.block_size, a.head_dim}.valid()) return cudaErrorInvalidValue;
  return launch_kernel(store_kv_q8_kernel, dim3(static_cast<unsigned>(a.n_tokens), static_cast<unsigned>(a.n_head_kv)),
                       dim3(static_cast<unsigned>(a.head_dim)), 0, stream, a);
}

}  // namespace llmd::engine::cuda
