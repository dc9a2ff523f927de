// The device loads the quantized kernels hand to engine/quant/device_units.hpp
// (its Load parameter: load16, load8, load2 at addresses aligned to their
// size).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace llmd::engine::cuda::dev {

// Through the read-only path: data read more than once (activations, norm
// weights, scales shared by neighbouring units, weights that several token
// tiles read).
struct CachedLoad {
  __device__ static void load16(const uint8_t* p, uint32_t out[4]) {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  }
  __device__ static void load8(const uint8_t* p, uint32_t out[2]) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    out[0] = v.x;
    out[1] = v.y;
  }
  __device__ static uint32_t load2(const uint8_t* p) { return __ldg(reinterpret_cast<const unsigned short*>(p)); }
};

// Weights a step reads once: the 16-byte loads are evict-first (kept out of
// L1); the small ones as CachedLoad.
struct StreamLoad {
  __device__ static void load16(const uint8_t* p, uint32_t out[4]) {
    const int4 v = __ldcs(reinterpret_cast<const int4*>(p));
    out[0] = static_cast<uint32_t>(v.x);
    out[1] = static_cast<uint32_t>(v.y);
    out[2] = static_cast<uint32_t>(v.z);
    out[3] = static_cast<uint32_t>(v.w);
  }
  __device__ static void load8(const uint8_t* p, uint32_t out[2]) { CachedLoad::load8(p, out); }
  __device__ static uint32_t load2(const uint8_t* p) { return CachedLoad::load2(p); }
};

}  // namespace llmd::engine::cuda::dev
