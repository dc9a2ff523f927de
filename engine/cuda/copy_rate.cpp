#include "engine/cuda/copy_rate.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>

namespace llmd::engine::cuda {

Result<double> measure_pinned_copy_rate(int device, size_t bytes) {
  auto fail = [](cudaError_t e, const char* what) {
    return Error(e == cudaErrorNoDevice || e == cudaErrorInvalidDevice ? ErrorCode::no_gpu : ErrorCode::cuda_error,
                 std::string(what) + ": " + cudaGetErrorString(e));
  };
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return fail(e, "cudaSetDevice");
  void* host = nullptr;
  void* dev = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  double best = 0.0;
  cudaError_t e = cudaMallocHost(&host, bytes);
  if (e == cudaSuccess) e = cudaMalloc(&dev, bytes);
  if (e == cudaSuccess) e = cudaStreamCreate(&stream);
  if (e == cudaSuccess) e = cudaEventCreate(&start);
  if (e == cudaSuccess) e = cudaEventCreate(&stop);
  for (int i = 0; i < 4 && e == cudaSuccess; ++i) {
    e = cudaEventRecord(start, stream);
    if (e == cudaSuccess) e = cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, stream);
    if (e == cudaSuccess) e = cudaEventRecord(stop, stream);
    if (e == cudaSuccess) e = cudaEventSynchronize(stop);
    float ms = 0;
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, start, stop);
    if (e == cudaSuccess && ms > 0) best = std::max(best, static_cast<double>(bytes) / (ms * 1e-3));
  }
  const cudaError_t first = e;
  if (stop) cudaEventDestroy(stop);
  if (start) cudaEventDestroy(start);
  if (stream) cudaStreamDestroy(stream);
  if (dev) cudaFree(dev);
  if (host) cudaFreeHost(host);
  if (first != cudaSuccess) return fail(first, "measuring the copy rate");
  return best;
}

}  // namespace llmd::engine::cuda
