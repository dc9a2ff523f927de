#include <climits>

#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/sampling.hpp"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kThreads = 512;

// Order used everywhere: larger value first, then lower index. NaN is never
// "better" than anything.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
  return v > bv || (v == bv && i < bi);
}

__device__ __forceinline__ void warp_best(float& v, int& i) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, v, o);
    const int oi = __shfl_xor_sync(kFullMask, i, o);
    if (better(ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
}

// Block-wide best (value, index), returned to every thread.
__device__ __forceinline__ void block_best(float& v, int& i, float* red_v, int* red_i) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  warp_best(v, i);
  __syncthreads();
  if (lane == 0) {
    red_v[warp] = v;
    red_i[warp] = i;
  }
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x >> 5) ? red_v[lane] : -INFINITY;
  i = lane < static_cast<int>(blockDim.x >> 5) ? red_i[lane] : INT_MAX;
  warp_best(v, i);
}

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) with 24 random bits.
__device__ __forceinline__ float uniform01(uint64_t seed) {
  return static_cast<float>(splitmix64(seed) >> 40) * (1.0f / 16777216.0f);
}

__global__ void __launch_bounds__(kThreads) argmax_kernel(const float* __restrict__ logits, int vocab,
                                                          int32_t* __restrict__ ids) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float red_v[32];
  __shared__ int red_i[32];
  const float* row = logits + static_cast<size_t>(blockIdx.x) * vocab;
  float bv = -INFINITY;
  int bi = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = row[i];
    if (better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  block_best(bv, bi, red_v, red_i);
  if (threadIdx.x == 0) ids[blockIdx.x] = bi == INT_MAX ? 0 : bi;
}

// Top-k: k passes, each picking the best element strictly after the previous
// pick in the (value desc, index asc) order; then a draw among the k.
__global__ void __launch_bounds__(kThreads) topk_kernel(const float* __restrict__ logits, int vocab, int k,
                                                        float inv_temp, const uint64_t* __restrict__ seeds,
                                                        int32_t* __restrict__ ids) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float red_v[32];
  __shared__ int red_i[32];
  __shared__ float cand_v[kMaxDeviceTopK];
  __shared__ int cand_i[kMaxDeviceTopK];
  const float* row = logits + static_cast<size_t>(blockIdx.x) * vocab;
  float pv = INFINITY;
  int pi = -1;
  int n_found = 0;
  for (int r = 0; r < k; ++r) {
    float bv = -INFINITY;
    int bi = INT_MAX;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float v = row[i];
      const bool eligible = v < pv || (v == pv && i > pi);
      if (eligible && better(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
    block_best(bv, bi, red_v, red_i);
    if (bi == INT_MAX) break;  // nothing left (only NaN)
    if (threadIdx.x == 0) {
      cand_v[r] = bv;
      cand_i[r] = bi;
    }
    pv = bv;
    pi = bi;
    n_found = r + 1;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  if (n_found == 0) {
    ids[blockIdx.x] = 0;
    return;
  }
  const float m = cand_v[0];
  if (!(m > -INFINITY)) {
    ids[blockIdx.x] = cand_i[0];
    return;
  }
  float total = 0.0f;
  for (int r = 0; r < n_found; ++r) total += expf((cand_v[r] - m) * inv_temp);
  const float target = uniform01(seeds[blockIdx.x]) * total;
  float cum = 0.0f;
  int pick = cand_i[0];
  for (int r = 0; r < n_found; ++r) {
    const float p = expf((cand_v[r] - m) * inv_temp);
    if (p <= 0.0f) break;
    pick = cand_i[r];
    cum += p;
    if (target < cum) break;
  }
  ids[blockIdx.x] = pick;
}

// Whole-vocabulary sampling: max, then per-thread contiguous segments so a
// prefix over the thread sums finds the segment holding the draw.
__global__ void __launch_bounds__(kThreads) sample_full_kernel(const float* __restrict__ logits, int vocab,
                                                               float inv_temp, const uint64_t* __restrict__ seeds,
                                                               int32_t* __restrict__ ids) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float red_v[32];
  __shared__ int red_i[32];
  __shared__ float seg_sum[kThreads];
  __shared__ int result;
  const float* row = logits + static_cast<size_t>(blockIdx.x) * vocab;
  float bv = -INFINITY;
  int bi = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = row[i];
    if (better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  block_best(bv, bi, red_v, red_i);
  if (bi == INT_MAX || !(bv > -INFINITY)) {
    if (threadIdx.x == 0) ids[blockIdx.x] = bi == INT_MAX ? 0 : bi;
    return;  // uniform across the block
  }
  const float m = bv;
  const int seg = (vocab + blockDim.x - 1) / blockDim.x;
  const int b = threadIdx.x * seg;
  const int e = min(vocab, b + seg);
  float s = 0.0f;
  for (int i = b; i < e; ++i) {
    const float v = row[i];
    if (v == v) s += expf((v - m) * inv_temp);
  }
  seg_sum[threadIdx.x] = s;
  if (threadIdx.x == 0) result = bi;  // fallback: the argmax
  __syncthreads();
  if (threadIdx.x == 0) {
    // Serial exclusive prefix (blockDim entries; cheap next to the pass over the row).
    float run = 0.0f;
    for (int t = 0; t < static_cast<int>(blockDim.x); ++t) {
      const float x = seg_sum[t];
      seg_sum[t] = run;
      run += x;
    }
    red_v[0] = run;
  }
  __syncthreads();
  const float total = red_v[0];
  const float target = uniform01(seeds[blockIdx.x]) * total;
  const float lo = seg_sum[threadIdx.x];
  if (target >= lo && target < lo + s) {
    float cum = lo;
    int pick = -1;
    for (int i = b; i < e; ++i) {
      const float v = row[i];
      if (!(v == v)) continue;
      const float p = expf((v - m) * inv_temp);
      if (p <= 0.0f) continue;
      pick = i;
      cum += p;
      if (target < cum) break;
    }
    if (pick >= 0) result = pick;
  }
  __syncthreads();
  if (threadIdx.x == 0) ids[blockIdx.x] = result;
}

}  // namespace

cudaError_t launch_argmax(const float* logits, int n_rows, int vocab, int32_t* ids, cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  if (vocab <= 0) return cudaErrorInvalidValue;
  return launch_kernel(argmax_kernel, dim3(n_rows), dim3(kThreads), 0, stream, logits, vocab, ids);
}

bool sample_topk_supported(int top_k, int vocab) {
  return vocab > 0 && (top_k <= 0 || top_k >= vocab || top_k <= kMaxDeviceTopK);
}

cudaError_t launch_sample_topk(const float* logits, int n_rows, int vocab, int top_k, float temperature,
                               const uint64_t* seeds, int32_t* ids, cudaStream_t stream) {
  if (n_rows <= 0) return cudaSuccess;
  if (!sample_topk_supported(top_k, vocab) || !(temperature > 0.0f)) return cudaErrorInvalidValue;
  const float inv_temp = 1.0f / temperature;
  if (top_k <= 0 || top_k >= vocab) {
    return launch_kernel(sample_full_kernel, dim3(n_rows), dim3(kThreads), 0, stream, logits, vocab, inv_temp, seeds,
                         ids);
  }
  return launch_kernel(topk_kernel, dim3(n_rows), dim3(kThreads), 0, stream, logits, vocab, top_k, inv_temp, seeds,
                       ids);
}

}  // namespace llmd::engine::cuda
