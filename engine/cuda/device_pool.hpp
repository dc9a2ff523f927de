// Device memory. DevicePool hands out long-lived allocations (weights,
// activation buffers, workspaces) carved from cudaMalloc'd slabs; nothing is
// freed until the pool goes away. DeviceBuffer owns a single cudaMalloc'd
// region (the KV-cache, test buffers) and can be reallocated. Plain device
// memory only: never managed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/cuda/cuda_status.hpp"

namespace llmd::engine::cuda {

constexpr size_t kDeviceAlignment = 256;

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;

  // Frees what it held and allocates `bytes` (0 frees only).
  Status allocate(DeviceHealth& health, size_t bytes, const char* what);
  void reset();

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory (fast, asynchronous copies to and from the device).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { reset(); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  Status allocate(DeviceHealth& health, size_t bytes, const char* what);
  void reset();
  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class DevicePool {
 public:
  explicit DevicePool(DeviceHealth* health, size_t slab_bytes = size_t{64} << 20)
      : health_(health), slab_bytes_(slab_bytes) {}
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // `bytes` of device memory aligned to kDeviceAlignment. Large requests get
  // their own cudaMalloc; small ones share slabs. Fails with
  // "cuda_out_of_memory" naming `what` and how much was asked and free.
  Result<void*> alloc(size_t bytes, const char* what);
  template <typename T>
  Result<T*> alloc_array(size_t n, const char* what) {
    auto r = alloc(n * sizeof(T), what);
    if (!r) return r.take_error();
    return static_cast<T*>(*r);
  }

  uint64_t bytes_reserved() const { return reserved_; }  // cudaMalloc'd
  uint64_t bytes_used() const { return used_; }          // handed out

 private:
  struct Chunk {
    void* base = nullptr;
    size_t size = 0;
    size_t used = 0;
  };
  Result<void*> raw_alloc(size_t bytes, const char* what);

  DeviceHealth* health_;
  size_t slab_bytes_;
  std::vector<Chunk> chunks_;
  int current_slab_ = -1;
  uint64_t reserved_ = 0;
  uint64_t used_ = 0;
};

}  // namespace llmd::engine::cuda
