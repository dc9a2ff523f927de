// What CUDA devices this process can use. On a machine without a GPU (or
// without the NVIDIA driver) list_devices() returns an Error with code
// "no_gpu" and a message that says why; nothing aborts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace llmd::engine::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t l2_bytes = 0;
  uint64_t smem_per_block_optin = 0;
  int memory_bus_bits = 0;
};

// Runtime and driver versions as "13.0" strings ("none" when absent).
std::string cuda_runtime_version();
std::string cuda_driver_version();

Result<std::vector<DeviceInfo>> list_devices();

// Info about one device; Error "no_gpu" when it does not exist.
Result<DeviceInfo> device_info(int index);

// One line for logs: "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
std::string describe(const DeviceInfo& d);

}  // namespace llmd::engine::cuda
