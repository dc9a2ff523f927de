#include <algorithm>

#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/rope.cuh"
#include "engine/cuda/kernels/rope_kv.hpp"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

// One block per (token, head): heads 0..n_head-1 are queries, the next
// n_head_kv keys (both rotate); a key head's block also copies the matching
// value head. Many small blocks instead of one per token, so a decode step's
// few tokens are spread over the device and each thread has at most a couple
// of elements to load.
template <typename KT>
__global__ void rope_kv_kernel(RopeKvArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x;
  const int h = blockIdx.y;
  const int hd = a.head_dim;
  const int width = (a.n_head + 2 * a.n_head_kv) * hd;
  const float* in = a.qkv + static_cast<size_t>(t) * width;
  const int pos = a.pos[t];
  const int blk = a.block_tables[static_cast<size_t>(a.seq[t]) * a.bt_stride + pos / a.block_size];
  const int slot = pos % a.block_size;
  const bool is_q = h < a.n_head;
  const int kvh = h - a.n_head;
  float* q = is_q ? a.q_out + (static_cast<size_t>(t) * a.n_head + h) * hd : nullptr;
  const size_t cache_row = ((static_cast<size_t>(blk) * a.n_head_kv + kvh) * a.block_size + slot) * hd;
  KT* k = is_q ? nullptr : static_cast<KT*>(a.k_cache) + cache_row;
  const int half_rot = a.rope_dim / 2;
  const float* cs = a.rope_cs + static_cast<size_t>(pos) * half_rot * 2;
  const int base = h * hd;

  // Rotating pairs.
  for (int i = threadIdx.x; i < half_rot; i += blockDim.x) {
    const int e0 = a.neox ? i : 2 * i;
    const int e1 = a.neox ? i + half_rot : 2 * i + 1;
    float x0 = in[base + e0];
    float x1 = in[base + e1];
    if (a.bias) {
      x0 += a.bias[base + e0];
      x1 += a.bias[base + e1];
    }
    float y0, y1;
    rope_rotate(x0, x1, cs[2 * i], cs[2 * i + 1], y0, y1);
    if (is_q) {
      q[e0] = y0;
      q[e1] = y1;
    } else {
      k[e0] = from_float<KT>(y0);
      k[e1] = from_float<KT>(y1);
    }
  }
  // Dimensions past rope_dim pass through unrotated.
  for (int e = a.rope_dim + threadIdx.x; e < hd; e += blockDim.x) {
    float x = in[base + e];
    if (a.bias) x += a.bias[base + e];
    if (is_q) q[e] = x;
    else k[e] = from_float<KT>(x);
  }
  // The value head that goes with a key head.
  if (!is_q) {
    const int v_off = (a.n_head + a.n_head_kv + kvh) * hd;
    KT* v = static_cast<KT*>(a.v_cache) + cache_row;
    for (int e = threadIdx.x; e < hd; e += blockDim.x) {
      float x = in[v_off + e];
      if (a.bias) x += a.bias[v_off + e];
      v[e] = from_float<KT>(x);
    }
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
  const dim3 grid(static_cast<unsigned>(a.n_tokens), static_cast<unsigned>(heads));
  // A thread per rotating pair (two value elements each): small blocks, as
  // many as tokens x heads.
  const dim3 block(static_cast<unsigned>(std::min(128, std::max(32, a.head_dim / 2))));
  if (a.kv_type == DType::f16) {
    return launch_kernel(rope_kv_kernel<__half>, grid, block, 0, stream, a);
  } else if (a.kv_type == DType::f32) {
    return launch_kernel(rope_kv_kernel<float>, grid, block, 0, stream, a);
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace llmd::engine::cuda
