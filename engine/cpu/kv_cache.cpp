#include "engine/cpu/kv_cache.hpp"

#include <cstring>

namespace llmd::engine::cpu {

uint64_t CpuKvCache::block_bytes(const ModelConfig& c, const KvCacheShape& shape) {
  if (shape.block_size <= 0) return 0;
  uint64_t elt = 0;
  if (shape.dtype == KvDtype::f16) elt = 2;
  if (shape.dtype == KvDtype::f32) elt = 4;
  if (elt == 0) return 0;
  return static_cast<uint64_t>(c.n_layer) * 2 * static_cast<uint64_t>(c.n_head_kv) *
         static_cast<uint64_t>(c.head_dim) * static_cast<uint64_t>(shape.block_size) * elt;
}

Status CpuKvCache::init(const ModelConfig& c, const KvCacheShape& shape) {
  n_blocks_ = 0;
  if (shape.dtype == KvDtype::q8_0)
    return Error("kv_unsupported_dtype", "the CPU backend stores the KV-cache as f16 or f32, not q8_0");
  if (shape.block_size <= 0 || shape.block_size > 4096)
    return Error("kv_bad_shape", "KV block size must be in [1, 4096], got " + std::to_string(shape.block_size));
  if (shape.n_blocks <= 0) return Error("kv_bad_shape", "KV pool needs at least one block");
  const uint64_t bb = block_bytes(c, shape);
  if (bb == 0) return Error("kv_bad_shape", "unsupported KV element type");
  if (static_cast<uint64_t>(shape.n_blocks) > (uint64_t{1} << 46) / bb)
    return Error("kv_bad_shape", "KV pool of " + std::to_string(shape.n_blocks) + " blocks is too large");
  if (Status st = buf_.allocate(bb * static_cast<uint64_t>(shape.n_blocks)); !st) return st;
  n_blocks_ = shape.n_blocks;
  block_size_ = shape.block_size;
  n_head_kv_ = c.n_head_kv;
  head_dim_ = c.head_dim;
  elem_ = shape.dtype == KvDtype::f32 ? KvElem::f32 : KvElem::f16;
  tile_bytes_ = static_cast<uint64_t>(head_dim_) * static_cast<uint64_t>(block_size_) * (elem_ == KvElem::f32 ? 4 : 2);
  block_bytes_ = bb;
  return ok_status();
}

void CpuKvCache::write(int32_t block, int32_t slot, int layer, const float* k, const float* v,
                       void (*to_f16)(const float*, uint16_t*, int64_t)) {
  uint8_t* b = base(block);
  if (elem_ == KvElem::f32) {
    for (int h = 0; h < n_head_kv_; ++h) {
      const float* kh = k + static_cast<int64_t>(h) * head_dim_;
      float* kf = reinterpret_cast<float*>(b + k_offset(layer, h));
      float* vf = reinterpret_cast<float*>(b + v_offset(layer, h)) + static_cast<int64_t>(slot) * head_dim_;
      for (int d = 0; d < head_dim_; ++d) kf[static_cast<int64_t>(d) * block_size_ + slot] = kh[d];
      std::memcpy(vf, v + static_cast<int64_t>(h) * head_dim_, static_cast<size_t>(head_dim_) * sizeof(float));
    }
    return;
  }
  // f16: convert as many whole heads at once as the buffers hold (one call
  // each for K and V on most models), then place them.
  constexpr int kBuf = 1024;
  uint16_t kh16[kBuf], vh16[kBuf];
  const int per_call = head_dim_ <= kBuf ? kBuf / head_dim_ : 0;
  if (per_call == 0) {  // heads wider than the buffer: piece by piece
    for (int h = 0; h < n_head_kv_; ++h) {
      const float* kh = k + static_cast<int64_t>(h) * head_dim_;
      uint16_t* kf = reinterpret_cast<uint16_t*>(b + k_offset(layer, h));
      uint16_t* vf = reinterpret_cast<uint16_t*>(b + v_offset(layer, h)) + static_cast<int64_t>(slot) * head_dim_;
      to_f16(v + static_cast<int64_t>(h) * head_dim_, vf, head_dim_);
      for (int d0 = 0; d0 < head_dim_; d0 += kBuf) {
        const int n = head_dim_ - d0 < kBuf ? head_dim_ - d0 : kBuf;
        to_f16(kh + d0, kh16, n);
        for (int d = 0; d < n; ++d) kf[static_cast<int64_t>(d0 + d) * block_size_ + slot] = kh16[d];
      }
    }
    return;
  }
  for (int h0 = 0; h0 < n_head_kv_; h0 += per_call) {
    const int hn = n_head_kv_ - h0 < per_call ? n_head_kv_ - h0 : per_call;
    const int64_t first = static_cast<int64_t>(h0) * head_dim_, count = static_cast<int64_t>(hn) * head_dim_;
    to_f16(k + first, kh16, count);
    to_f16(v + first, vh16, count);
    for (int h = 0; h < hn; ++h) {
      const uint16_t* kh = kh16 + static_cast<int64_t>(h) * head_dim_;
      uint16_t* kf = reinterpret_cast<uint16_t*>(b + k_offset(layer, h0 + h));
      uint16_t* vf = reinterpret_cast<uint16_t*>(b + v_offset(layer, h0 + h)) + static_cast<int64_t>(slot) * head_dim_;
      for (int d = 0; d < head_dim_; ++d) kf[static_cast<int64_t>(d) * block_size_ + slot] = kh[d];
      std::memcpy(vf, vh16 + static_cast<int64_t>(h) * head_dim_, static_cast<size_t>(head_dim_) * sizeof(uint16_t));
    }
  }
}

void CpuKvCache::copy_block(int32_t src, int32_t dst) {
  if (src == dst) return;
  std::memcpy(base(dst), base(src), block_bytes_);
}

}  // namespace llmd::engine::cpu
