#include "models/device_table.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "base/log.hpp"

namespace llmd::models {

uint64_t Device::reserved_total() const {
  uint64_t n = 0;
  for (const auto& [owner, bytes] : reserved) n += bytes;
  return n;
}

uint64_t Device::free() const {
  const uint64_t r = reserved_total();
  return r >= memory_budget ? 0 : memory_budget - r;
}

std::string format_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / static_cast<double>(1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / static_cast<double>(1ull << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

Result<DeviceTable> DeviceTable::discover(const DeviceOptions& o) {
  if (o.cpu_partitions < 1 || o.cpu_partitions > 64) {
    return Error(ErrorCode::invalid_config, "cpu_partitions must be 1..64");
  }
  if (!(o.gpu_memory_fraction > 0.0 && o.gpu_memory_fraction <= 1.0)) {
    return Error(ErrorCode::invalid_config, "gpu_memory_fraction must be in (0, 1]");
  }
  std::vector<Device> devices;
  if (o.all_gpus || !o.gpus.empty()) {
    std::string why;
    const std::vector<engine::GpuInfo> gpus = engine::list_gpus(&why);
    if (gpus.empty()) log::infof("devices: no GPU in use (%s)", why.c_str());
    for (const auto& g : gpus) {
      if (!o.all_gpus && std::find(o.gpus.begin(), o.gpus.end(), g.index) == o.gpus.end()) continue;
      Device d;
      d.id = "cuda:" + std::to_string(g.index);
      d.kind = engine::DeviceKind::cuda;
      d.name = g.name;
      d.memory_total = g.total_bytes;
      d.memory_budget = static_cast<uint64_t>(static_cast<double>(g.total_bytes) * o.gpu_memory_fraction);
      devices.push_back(std::move(d));
    }
    for (int want : o.gpus) {
      if (std::none_of(devices.begin(), devices.end(), [&](const Device& d) { return d.id == "cuda:" + std::to_string(want); })) {
        log::warnf("devices: GPU %d is configured but not available", want);
      }
    }
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const uint64_t ram = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
  const uint64_t host = o.host_memory_bytes > 0 ? o.host_memory_bytes : ram / 2;
  int cores = o.cpu_threads > 0 ? o.cpu_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int k = o.cpu_partitions;
  for (int i = 0; i < k; ++i) {
    Device d;
    d.id = k == 1 ? "cpu" : "cpu:" + std::to_string(i);
    d.kind = engine::DeviceKind::cpu;
    d.name = k == 1 ? "CPU" : "CPU partition " + std::to_string(i);
    d.memory_total = ram;
    d.memory_budget = host / static_cast<uint64_t>(k);
    d.threads = std::max(1, cores / k);
    devices.push_back(std::move(d));
  }
  return DeviceTable(std::move(devices));
}

DeviceTable::DeviceTable(std::vector<Device> devices) : devices_(std::move(devices)) {
  for (Device& d : devices_) {
    if (!d.arbiter) d.arbiter = std::make_shared<scheduler::DeviceArbiter>(d.id);
  }
}

Device* DeviceTable::find(std::string_view id) {
  for (auto& d : devices_) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

const Device* DeviceTable::find(std::string_view id) const { return const_cast<DeviceTable*>(this)->find(id); }

Result<std::string> DeviceTable::resolve(std::string_view requested) const {
  auto name = engine::parse_device_name(requested);
  if (!name) return Error(ErrorCode::device_unknown, name.error().message);
  auto unknown = [&] {
    std::string ids;
    for (const auto& d : devices_) ids += (ids.empty() ? "" : ", ") + d.id;
    return Error(ErrorCode::device_unknown, "no device '" + std::string(requested) + "' (devices: " + ids + ")");
  };
  const Device* best = nullptr;
  for (const auto& d : devices_) {
    if (d.kind != name->kind) continue;
    if (name->index >= 0) {
      // One CPU partition answers to "cpu" and "cpu:0".
      const bool single_cpu = d.id == "cpu" && name->index == 0;
      if (d.id == name->str() || single_cpu) return d.id;
      continue;
    }
    if (!best || d.free() > best->free()) best = &d;
  }
  if (!best) return unknown();
  return best->id;
}

bool DeviceTable::reserve(std::string_view device, const std::string& owner, uint64_t bytes) {
  Device* d = find(device);
  if (!d || d->free() < bytes) return false;
  d->reserved[owner] += bytes;
  return true;
}

void DeviceTable::set_reserved(std::string_view device, const std::string& owner, uint64_t bytes) {
  Device* d = find(device);
  if (!d) return;
  if (bytes == 0) {
    d->reserved.erase(owner);
  } else {
    d->reserved[owner] = bytes;
  }
}

void DeviceTable::release(std::string_view device, const std::string& owner) { set_reserved(device, owner, 0); }

void DeviceTable::release_owner(const std::string& owner) {
  for (auto& d : devices_) d.reserved.erase(owner);
}

void DeviceTable::release_owner_except(const std::string& owner, std::string_view keep) {
  for (auto& d : devices_) {
    if (d.id != keep) d.reserved.erase(owner);
  }
}

uint64_t DeviceTable::reserved_by(std::string_view device, const std::string& owner) const {
  const Device* d = find(device);
  if (!d) return 0;
  auto it = d->reserved.find(owner);
  return it == d->reserved.end() ? 0 : it->second;
}

}  // namespace llmd::models
