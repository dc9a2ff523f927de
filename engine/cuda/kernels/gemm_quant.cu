#include <algorithm>

#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/gemm_quant.hpp"
#include "engine/cuda/kernels/gemm_quant_block.hpp"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/mma.cuh"
#include "engine/cuda/kernels/quant_loads.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

// The tiles fill about this many blocks per multiprocessor before columns
// are split.
constexpr int kBlocksPerSm = 2;
constexpr int kReduceThreads = 256;

// The real block for qmm_block.
template <bool kBf16>
struct CudaQmmBlock {
  static constexpr int kThreads = kQmmThreads;
  // Through L2: a weight is read by every token tile of its rows.
  using Load = CachedLoad;
  __device__ int tid() const { return static_cast<int>(threadIdx.x); }
  __device__ void sync() const { __syncthreads(); }
  __device__ void copy16(void* smem, const void* gmem, bool valid) const { cp_async16(smem, gmem, valid ? 16 : 0); }
  __device__ void copy_wait() const {
    cp_async_commit();
    cp_async_wait<0>();
  }
  __device__ uint32_t to_elem(float v) const {
    if constexpr (kBf16) return __bfloat16_as_ushort(__float2bfloat16_rn(v));
    else return __half_as_ushort(__float2half_rn(v));
  }
  __device__ void ldmatrix_x4(uint32_t r[4], const void* smem) const { dev::ldmatrix_x4(r, smem); }
  __device__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) const {
    if constexpr (kBf16) mma_bf16_16816(c, a, b0, b1);
    else mma_f16_16816(c, a, b0, b1);
  }
};

// Block (row tile, token tile, split) of the product.
template <class U, bool kBf16>
__global__ void __launch_bounds__(kQmmThreads) gemm_quant_kernel(QmmProduct p, float* partial) {
  __shared__ QmmShared sh;
  pdl_wait();
  pdl_launch_dependents();
  const QmmTile t = qmm_tile(p, static_cast<int>(blockIdx.x), static_cast<int>(blockIdx.y),
                             static_cast<int>(blockIdx.z), static_cast<int>(gridDim.z), partial);
  qmm_block<U>(CudaQmmBlock<kBf16>{}, t, sh);
}

__global__ void __launch_bounds__(kReduceThreads)
    gemm_quant_reduce_kernel(QmmProduct p, const float* __restrict__ partial, int n_splits) {
  pdl_wait();
  pdl_launch_dependents();
  const size_t i = static_cast<size_t>(blockIdx.x) * kReduceThreads + threadIdx.x;
  const size_t rows = static_cast<size_t>(p.rows);
  if (i >= static_cast<size_t>(p.n_tokens) * rows) return;
  qmm_reduce_one(p, partial, n_splits, static_cast<int>(i / rows), static_cast<int>(i % rows));
}

QmmProduct product_of(const GemvQuantArgs& a) {
  QmmProduct p;
  p.w = static_cast<const uint8_t*>(a.w);
  p.planes = a.planes;
  p.rows = a.rows;
  p.k = a.k;
  p.x = static_cast<const uint16_t*>(a.x);
  p.n_tokens = a.n_tokens;
  p.y = a.y;
  p.ldy = static_cast<size_t>(a.ldy > 0 ? a.ldy : a.rows);
  p.accumulate = a.mode == GemvMode::accumulate;
  return p;
}

template <class U>
cudaError_t launch_typed(const GemvQuantArgs& a, int n_splits, float* partial, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((a.rows + kQmmRows - 1) / kQmmRows),
                  static_cast<unsigned>((a.n_tokens + kQmmTokens - 1) / kQmmTokens), static_cast<unsigned>(n_splits));
  const QmmProduct p = product_of(a);
  const cudaError_t e = a.x_type == DType::bf16
                            ? launch_kernel(gemm_quant_kernel<U, true>, grid, dim3(kQmmThreads), 0, stream, p, partial)
                            : launch_kernel(gemm_quant_kernel<U, false>, grid, dim3(kQmmThreads), 0, stream, p, partial);
  if (e != cudaSuccess || n_splits == 1) return e;
  const size_t outputs = static_cast<size_t>(a.n_tokens) * static_cast<size_t>(a.rows);
  const unsigned blocks = static_cast<unsigned>((outputs + kReduceThreads - 1) / kReduceThreads);
  return launch_kernel(gemm_quant_reduce_kernel, dim3(blocks), dim3(kReduceThreads), 0, stream, p,
                       static_cast<const float*>(partial), n_splits);
}

bool aligned(const void* p, uint64_t offset, uint64_t to) {
  return (reinterpret_cast<uintptr_t>(p) + offset) % to == 0;
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

bool gemm_quant_supported(gguf::GgmlType type, DType x_type, int k, int n_tokens, GemvMode mode) {
  const int block = quant::with_unit_type(type, 0, [](auto unit) { return decltype(unit)::kBlockWeights; });
  return block > 0 && (x_type == DType::f16 || x_type == DType::bf16) && k > 0 && k % block == 0 &&
         k % kQmmK == 0 && n_tokens >= 1 && n_tokens <= 65535 * kQmmTokens &&
         (mode == GemvMode::store || mode == GemvMode::accumulate);
}

int gemm_quant_splits(int rows, int n_tokens, int k, int sm_count, size_t partial_floats) {
  if (rows <= 0 || n_tokens <= 0 || k < kQmmK) return 1;
  const int64_t tiles = static_cast<int64_t>(ceil_div(rows, kQmmRows)) * ceil_div(n_tokens, kQmmTokens);
  const int64_t target = static_cast<int64_t>(std::max(sm_count, 1)) * kBlocksPerSm;
  if (tiles >= target) return 1;
  int splits = static_cast<int>(std::min<int64_t>(k / kQmmK, (target + tiles - 1) / tiles));
  const size_t plane = static_cast<size_t>(rows) * static_cast<size_t>(n_tokens);
  while (splits > 1 && static_cast<size_t>(splits) * plane > partial_floats) --splits;
  return std::max(splits, 1);
}

size_t gemm_quant_partial_floats(int sm_count) {
  // Splitting happens when tiles < 2 sm, into at most ceil(2 sm / tiles)
  // splits: splits * tiles < 4 sm, each tile at most 64 x 64 outputs.
  return static_cast<size_t>(std::max(sm_count, 1)) * 2 * kBlocksPerSm * kQmmRows * kQmmTokens;
}

cudaError_t launch_gemm_quant(const GemvQuantArgs& a, int n_splits, float* partial, cudaStream_t stream) {
  if (!gemm_quant_supported(a.type, a.x_type, a.k, a.n_tokens, a.mode) || a.norm_w) return cudaErrorInvalidValue;
  if (a.ldy != 0 && a.ldy < a.rows) return cudaErrorInvalidValue;
  if (n_splits < 1 || n_splits > a.k / kQmmK || (n_splits > 1 && partial == nullptr)) return cudaErrorInvalidValue;
  if (!aligned(a.w, a.planes.qs, 16) || !aligned(a.w, a.planes.qh, 16) || !aligned(a.w, a.planes.scales, 8) ||
      !aligned(a.w, a.planes.d, 2) || !aligned(a.x, 0, 16)) {
    return cudaErrorInvalidValue;
  }
  if (a.rows <= 0) return cudaSuccess;
  return quant::with_unit_type(a.type, cudaErrorInvalidValue,
                               [&](auto unit) { return launch_typed<decltype(unit)>(a, n_splits, partial, stream); });
}

}  // namespace llmd::engine::cuda
