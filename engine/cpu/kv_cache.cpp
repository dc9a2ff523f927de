#include "engine/cpu/kv_cache.hpp"

#include <cstring>

namespace llmd::engine::cpu {

uint64_t CpuKvCache::block_bytes(const ModelConfig& c, const KvCacheShape& shape, int32_t n_layers) {
  if (shape.block_size <= 0) return 0;
  if (n_layers < 0) n_layers = c.n_layer;
  uint64_t elt = 0;
  if (shape.dtype == KvDtype::f16) elt = 2;
  if (shape.dtype == KvDtype::f32) elt = 4;
  if (elt == 0) return 0;
  return static_cast<uint64_t>(n_layers) * 2 * static_cast<uint64_t>(c.n_head_kv) *
         static_cast<uint64_t>(c.head_dim) * static_cast<uint64_t>(shape.block_size) * elt;
}

Status CpuKvCache::init(const ModelConfig& c, const KvCacheShape& shape, int32_t n_layers) {
  n_blocks_ = 0;
  if (shape.dtype == KvDtype::q8_0)
    return Error(ErrorCode::kv_unsupported_dtype, "the CPU backend stores the KV-cache as f16 or f32, not q8_0");
  if (shape.block_size <= 0 || shape.block_size > 4096)
    return Error(ErrorCode::kv_bad_shape, "KV block size must be in [1, 4096], got " + std::to_string(shape.block_size));
  if (shape.n_blocks <= 0) return Error(ErrorCode::kv_bad_shape, "KV pool needs at least one block");
  const uint64_t bb = block_bytes(c, shape, n_layers);
  if (bb == 0) return Error(ErrorCode::kv_bad_shape, "unsupported KV element type");
  if (static_cast<uint64_t>(shape.n_blocks) > (uint64_t{1} << 46) / bb)
    return Error(ErrorCode::kv_bad_shape, "KV pool of " + std::to_string(shape.n_blocks) + " blocks is too large");
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
  // f16: convert up to kBuf values of K and of V per call (all heads of a
  // token at once on most models), then place each head's run of them.
  constexpr int64_t kBuf = 1024;
  uint16_t kh16[kBuf], vh16[kBuf];
  const int64_t kv_dim = static_cast<int64_t>(n_head_kv_) * head_dim_;
  for (int64_t i0 = 0; i0 < kv_dim; i0 += kBuf) {
    const int64_t n = kv_dim - i0 < kBuf ? kv_dim - i0 : kBuf;
    to_f16(k + i0, kh16, n);
    to_f16(v + i0, vh16, n);
    for (int64_t i = 0; i < n;) {
      const int h = static_cast<int>((i0 + i) / head_dim_);
      const int64_t d0 = (i0 + i) % head_dim_;
      const int64_t run = head_dim_ - d0 < n - i ? head_dim_ - d0 : n - i;
      uint16_t* kf = reinterpret_cast<uint16_t*>(b + k_offset(layer, h));
      uint16_t* vf = reinterpret_cast<uint16_t*>(b + v_offset(layer, h)) + static_cast<int64_t>(slot) * head_dim_;
      for (int64_t d = 0; d < run; ++d) kf[(d0 + d) * block_size_ + slot] = kh16[i + d];
      std::memcpy(vf + d0, vh16 + i, static_cast<size_t>(run) * sizeof(uint16_t));
      i += run;
    }
  }
}

void CpuKvCache::copy_block(int32_t src, int32_t dst) {
  if (src == dst) return;
  std::memcpy(base(dst), base(src), block_bytes_);
}

}  // namespace llmd::engine::cpu
