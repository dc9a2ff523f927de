// A zero-initialized, 64-byte aligned heap buffer; large ones are 2 MiB
// aligned and advised to use transparent huge pages (fewer TLB misses when
// streaming weights).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.hpp"

namespace llmd::engine::cpu {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& o) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Replaces the contents with `bytes` zeroed bytes; error "out_of_memory"
  // when the allocation fails (the old contents are then released too).
  Status allocate(size_t bytes);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace llmd::engine::cpu
