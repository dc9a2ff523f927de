// The devices models run on and their memory budgets.
//
// Found at start: every usable CUDA GPU `cuda:N` (budget = gpu_memory_fraction
// x its memory) and the CPU, split into `cpu_partitions` partitions, each
// with an equal share of the host budget and of the cores. With one
// partition the CPU is called "cpu"; with K it is "cpu:0" ... "cpu:K-1".
//
// Memory is reserved per owner (a model id) before the work that needs it
// starts, so two loads that cannot both fit never both start; the owner gives
// it back when its memory is freed. Not thread-safe: the model manager calls
// it under its own lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/backend/backend_factory.hpp"
#include "scheduler/device_arbiter.hpp"

namespace llmd::models {

struct DeviceOptions {
  bool all_gpus = true;               // [devices] gpus = "all"
  std::vector<int> gpus;              // ... or these indices (empty with all_gpus false: none)
  double gpu_memory_fraction = 0.90;  // of each GPU's memory
  int cpu_partitions = 1;
  uint64_t host_memory_bytes = 0;     // 0 = half of physical RAM; split evenly over the partitions
  int cpu_threads = 0;                // 0 = every core this process may use; split evenly
};

struct Device {
  std::string id;  // "cuda:0", "cpu", "cpu:1"
  engine::DeviceKind kind = engine::DeviceKind::cpu;
  std::string name;
  uint64_t memory_total = 0;
  uint64_t memory_budget = 0;
  int threads = 0;                          // CPU partitions: threads a backend here uses
  std::map<std::string, uint64_t> reserved;  // owner -> bytes
  // The turn-taking and device-time share of the models running here
  // (created with the table; shared by copies of this entry).
  std::shared_ptr<scheduler::DeviceArbiter> arbiter;

  uint64_t reserved_total() const;
  uint64_t free() const;  // budget - reserved (0 when over)
};

class DeviceTable {
 public:
  // Discovers the GPUs (through the backend factory) and lays out the CPU
  // partitions. Errors: invalid_config for impossible options.
  static Result<DeviceTable> discover(const DeviceOptions& options);
  // A table of the given devices (tests).
  explicit DeviceTable(std::vector<Device> devices);

  const std::vector<Device>& devices() const { return devices_; }
  Device* find(std::string_view id);
  const Device* find(std::string_view id) const;

  // The canonical id for a requested device: "cpu" with several partitions
  // is the partition with the most free memory; "cpu:0" with one is "cpu";
  // "cuda" is the GPU with the most free memory. device_unknown when none
  // matches ("auto" is the caller's to resolve).
  Result<std::string> resolve(std::string_view requested) const;

  // Reserves `bytes` on `device` for `owner` (added to what it holds there).
  // False, changing nothing, when the device lacks the room.
  bool reserve(std::string_view device, const std::string& owner, uint64_t bytes);
  // Sets the owner's reservation on `device` to exactly `bytes` (0 removes
  // it), even beyond the budget: the measured use after a load.
  void set_reserved(std::string_view device, const std::string& owner, uint64_t bytes);
  void release(std::string_view device, const std::string& owner);
  // The owner's reservations on every device (but `keep`).
  void release_owner(const std::string& owner);
  void release_owner_except(const std::string& owner, std::string_view keep);
  uint64_t reserved_by(std::string_view device, const std::string& owner) const;

 private:
  std::vector<Device> devices_;
};

// "1.5 GiB", "12.0 MiB", "512 B": for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace llmd::models
