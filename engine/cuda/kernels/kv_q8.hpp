// The q8_0 KV-cache of the CUDA backend (KvDtype::q8_0): each row of
// head_dim keys or values in groups of 32, a group's values int8 and its
// scale f16, formed as the project's q8_0 quantizer forms a block
// (engine/quant/quantize.cpp: d = amax / 127, q = round-to-nearest-even of
// x / d, d stored as f16), so a stored row is quantize_row(Q8_0) of it and a
// key read back is exactly d * q. 17/16 bytes per element against f16's 2:
// the pool holds 1.88 times the tokens.
//
// Layout of a block in each layer's K and V half of the pool:
//   values [n_head_kv][block_size][head_dim] int8, then
//   scales [n_head_kv][block_size][head_dim / 32] f16
// so a block is one contiguous run (copy_kv_block copies it whole).
//
// Host and device code alike: the host tests check the arithmetic against
// the quantizer bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define LLMD_KVQ8_HD __host__ __device__ __forceinline__
#else
#define LLMD_KVQ8_HD inline
#endif

namespace llmd::engine::cuda {

constexpr int kKvQ8Group = 32;

// head_dim a multiple of the group, and within what the attention kernel
// takes.
LLMD_KVQ8_HD bool kv_q8_supported(int head_dim) {
  return head_dim >= kKvQ8Group && head_dim <= 256 && head_dim % kKvQ8Group == 0;
}

// Byte offsets within one layer's K (or V) half of the pool.
struct KvQ8Layout {
  int n_head_kv = 0;
  int block_size = 0;
  int head_dim = 0;
  // Blocks start 16-byte aligned (whole-block copies, 8-byte key loads):
  // values of a block a multiple of 256 bytes (block_size 16 with any
  // supported head_dim is).
  LLMD_KVQ8_HD bool valid() const {
    return n_head_kv > 0 && block_size > 0 && kv_q8_supported(head_dim) && values_bytes() % 256 == 0;
  }
  LLMD_KVQ8_HD size_t values_bytes() const {
    return static_cast<size_t>(n_head_kv) * static_cast<size_t>(block_size) * static_cast<size_t>(head_dim);
  }
  LLMD_KVQ8_HD size_t block_bytes() const { return values_bytes() + values_bytes() / kKvQ8Group * 2; }
  // The first value of the row of token `slot` of block `blk`, head kvh.
  LLMD_KVQ8_HD size_t row(int blk, int kvh, int slot) const {
    return static_cast<size_t>(blk) * block_bytes() +
           (static_cast<size_t>(kvh) * static_cast<size_t>(block_size) + static_cast<size_t>(slot)) *
               static_cast<size_t>(head_dim);
  }
  // The f16 scale of group g of that row.
  LLMD_KVQ8_HD size_t scale(int blk, int kvh, int slot, int g) const {
    const size_t rows = static_cast<size_t>(kvh) * static_cast<size_t>(block_size) + static_cast<size_t>(slot);
    return static_cast<size_t>(blk) * block_bytes() + values_bytes() +
           (rows * static_cast<size_t>(head_dim / kKvQ8Group) + static_cast<size_t>(g)) * 2;
  }
};

// The scale of a group whose largest magnitude is amax (stored as f16).
LLMD_KVQ8_HD float kv_q8_scale(float amax) { return amax / 127.0f; }
// What the values are multiplied by before rounding.
LLMD_KVQ8_HD float kv_q8_inverse(float d) { return d > 0.0f ? 1.0f / d : 0.0f; }
// A value's int8, rounded to nearest even and clamped as the quantizer does.
LLMD_KVQ8_HD int kv_q8_value(float x, float inv_d) {
#if defined(__CUDA_ARCH__)
  const int q = __float2int_rn(x * inv_d);
#else
  const int q = static_cast<int>(std::lrintf(x * inv_d));
#endif
  return q < -127 ? -127 : (q > 127 ? 127 : q);
}

}  // namespace llmd::engine::cuda

#undef LLMD_KVQ8_HD
