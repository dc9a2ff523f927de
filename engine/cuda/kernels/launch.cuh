// Kernel launch with the programmatic-dependent-launch attribute when the
// calling thread has it on (launch.hpp), and the device-side halves:
// pdl_wait() before touching shared data, pdl_launch_dependents() to let the
// next kernel's blocks be scheduled.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "engine/cuda/kernels/launch.hpp"

namespace llmd::engine::cuda {
namespace dev {

// Returns once every earlier kernel of the stream has completed and its
// writes are visible. A no-op for kernels launched without the attribute.
// Call it in every thread, before any early return, so that the completion of
// this kernel still implies the completion of all earlier ones.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Allows the next kernel of the stream (if launched with the attribute) to be
// scheduled once every block of this one has called this or exited.
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

}  // namespace dev

// kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream
// serialization allowed when programmatic_launch() is on for this thread.
template <typename... Params, typename... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                          Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1] = {};
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = programmatic_launch() ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace llmd::engine::cuda
