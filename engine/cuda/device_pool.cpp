#include "engine/cuda/device_pool.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>

namespace llmd::engine::cuda {
namespace {

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

std::string gib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  return buf;
}

Error oom_error(const char* what, size_t bytes, cudaError_t e) {
  size_t free_b = 0, total_b = 0;
  (void)cudaMemGetInfo(&free_b, &total_b);
  (void)cudaGetLastError();
  return Error(errc::kOutOfMemory, std::string("out of device memory allocating ") + what + ": asked " + gib(bytes) +
                                       ", " + gib(free_b) + " of " + gib(total_b) + " free (" +
                                       cudaGetErrorName(e) + ")");
}

}  // namespace

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

Status DeviceBuffer::allocate(DeviceHealth& health, size_t bytes, const char* what) {
  reset();
  if (bytes == 0) return ok_status();
  if (!health.healthy()) return health.failed_error();
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return oom_error(what, bytes, e);
  }
  LLMD_CUDA_TRY(health, e);
  ptr_ = p;
  bytes_ = bytes;
  return ok_status();
}

void DeviceBuffer::reset() {
  if (ptr_) (void)cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

Status PinnedBuffer::allocate(DeviceHealth& health, size_t bytes, const char* what) {
  reset();
  if (bytes == 0) return ok_status();
  void* p = nullptr;
  cudaError_t e = cudaMallocHost(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return Error(errc::kOutOfMemory, std::string("out of pinned host memory allocating ") + what + ": asked " +
                                         gib(bytes));
  }
  LLMD_CUDA_TRY(health, e);
  ptr_ = p;
  bytes_ = bytes;
  return ok_status();
}

void PinnedBuffer::reset() {
  if (ptr_) (void)cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

DevicePool::~DevicePool() {
  for (auto& c : chunks_) (void)cudaFree(c.base);
}

Result<void*> DevicePool::raw_alloc(size_t bytes, const char* what) {
  if (!health_->healthy()) return health_->failed_error();
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return oom_error(what, bytes, e);
  }
  Status st = health_->check(e, "cudaMalloc");
  if (!st.ok()) return st.take_error();
  reserved_ += bytes;
  return p;
}

Result<void*> DevicePool::alloc(size_t bytes, const char* what) {
  bytes = round_up(bytes == 0 ? 1 : bytes, kDeviceAlignment);
  if (bytes >= slab_bytes_ / 4) {
    auto p = raw_alloc(bytes, what);
    if (!p) return p.take_error();
    chunks_.push_back({*p, bytes, bytes});
    used_ += bytes;
    return *p;
  }
  if (current_slab_ < 0 || chunks_[current_slab_].size - chunks_[current_slab_].used < bytes) {
    auto p = raw_alloc(slab_bytes_, what);
    if (!p) return p.take_error();
    chunks_.push_back({*p, slab_bytes_, 0});
    current_slab_ = static_cast<int>(chunks_.size()) - 1;
  }
  Chunk& c = chunks_[current_slab_];
  void* out = static_cast<char*>(c.base) + c.used;
  c.used += bytes;
  used_ += bytes;
  return out;
}

}  // namespace llmd::engine::cuda
