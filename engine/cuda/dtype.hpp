// Element types the CUDA backend keeps tensors in on the device.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmd::engine::cuda {

enum class DType : uint8_t { f32, f16, bf16 };

constexpr size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 2; }

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "?";
}

}  // namespace llmd::engine::cuda
