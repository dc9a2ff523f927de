// The plan-driven sampling kernel (sample_rows.hpp): one block of kThreads
// threads per plan, running sample_row_in_block (sample_rows_block.hpp).
#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/launch.cuh"
#include "engine/cuda/kernels/sample_rows.hpp"
#include "engine/cuda/kernels/sample_rows_block.hpp"

namespace llmd::engine::cuda {
namespace {

// The CUDA thread block as sample_rows_block.hpp's policy.
struct CudaBlock {
  static constexpr int kThreads = 512;
  __device__ int tid() const { return static_cast<int>(threadIdx.x); }
  __device__ void sync() const { __syncthreads(); }
  template <typename T>
  __device__ T shfl_xor(T v, int o) const {
    return __shfl_xor_sync(dev::kFullMask, v, o);
  }
  __device__ void atomic_add(int* p, int v) const { atomicAdd(p, v); }
};

__global__ void __launch_bounds__(CudaBlock::kThreads)
    sample_rows_kernel(const float* __restrict__ logits, int vocab, const DeviceSamplePlan* __restrict__ plans,
                       const LogitEdit* __restrict__ edits, const uint64_t* __restrict__ masks, float* work,
                       DeviceSampleResult* results) {
  __shared__ SampleShared<CudaBlock> s;
  dev::pdl_wait();
  sample_row_in_block(CudaBlock{}, static_cast<int>(blockIdx.x), logits, vocab, plans, edits, masks, work, results,
                      s);
}

}  // namespace

size_t sample_rows_work_bytes(int n_plans, int vocab) {
  return n_plans <= 0 || vocab <= 0 ? 0 : static_cast<size_t>(n_plans) * static_cast<size_t>(vocab) * sizeof(float);
}

cudaError_t launch_sample_rows(const float* logits, int vocab, const DeviceSamplePlan* plans, int n_plans,
                               const LogitEdit* edits, const uint64_t* masks, float* work,
                               DeviceSampleResult* results, cudaStream_t stream) {
  if (n_plans <= 0) return cudaSuccess;
  if (vocab <= 0 || (vocab + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock) > kSampleMaxBlocks)
    return cudaErrorInvalidValue;
  return launch_kernel(sample_rows_kernel, dim3(n_plans), dim3(CudaBlock::kThreads), 0, stream, logits, vocab, plans, edits,
                       masks, work, results);
}

}  // namespace llmd::engine::cuda
