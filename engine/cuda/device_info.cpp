#include "engine/cuda/device_info.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>

#include "engine/cuda/cuda_status.hpp"

namespace llmd::engine::cuda {
namespace {

std::string version_string(int v) {
  if (v <= 0) return "none";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d.%d", v / 1000, (v % 1000) / 10);
  return buf;
}

Error no_gpu(cudaError_t e) {
  (void)cudaGetLastError();
  std::string why;
  if (e == cudaErrorInsufficientDriver) {
    why = "no NVIDIA driver is loaded (" + std::string(cudaGetErrorString(e)) + ")";
  } else if (e == cudaErrorNoDevice || e == cudaSuccess) {
    why = "no CUDA device is present";
  } else {
    why = std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
  }
  return Error(errc::kNoGpu, "no GPU: " + why);
}

}  // namespace

std::string cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return "none";
  return version_string(v);
}

std::string cuda_driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) return "none";
  return version_string(v);
}

Result<DeviceInfo> device_info(int index) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count <= 0) return no_gpu(e);
  if (index < 0 || index >= count) {
    return Error(errc::kNoGpu, "no GPU: device " + std::to_string(index) + " does not exist (" +
                                   std::to_string(count) + " present)");
  }
  cudaDeviceProp p{};
  e = cudaGetDeviceProperties(&p, index);
  if (e != cudaSuccess) return no_gpu(e);
  DeviceInfo d;
  d.index = index;
  d.name = p.name;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.total_bytes = p.totalGlobalMem;
  d.l2_bytes = static_cast<uint64_t>(p.l2CacheSize);
  d.smem_per_block_optin = p.sharedMemPerBlockOptin;
  d.memory_bus_bits = p.memoryBusWidth;
  int prev = -1;
  if (cudaGetDevice(&prev) == cudaSuccess && cudaSetDevice(index) == cudaSuccess) {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_bytes = free_b;
    (void)cudaGetLastError();
    if (prev >= 0) (void)cudaSetDevice(prev);
  }
  (void)cudaGetLastError();
  return d;
}

Result<std::vector<DeviceInfo>> list_devices() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count <= 0) return no_gpu(e);
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    auto d = device_info(i);
    if (!d) return d.take_error();
    out.push_back(std::move(*d));
  }
  return out;
}

std::string describe(const DeviceInfo& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs, %.1f GiB, L2 %.0f MiB)", d.name.c_str(), d.cc_major,
                d.cc_minor, d.sm_count, static_cast<double>(d.total_bytes) / (1u << 30),
                static_cast<double>(d.l2_bytes) / (1u << 20));
  return buf;
}

}  // namespace llmd::engine::cuda
