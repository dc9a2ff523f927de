// Physical storage of the paged KV-cache on the CPU. Which block belongs to
// which sequence is decided above the backend; a block here is just an index.
//
// Block layout (block_size tokens, every layer the pool holds: all of the
// model's, or a split stage's own range counted from 0), elements f16 or f32:
//   for layer l in [0, n_layers):
//     K: [n_head_kv][head_dim][block_size]   keys transposed: one row per dimension
//     V: [n_head_kv][block_size][head_dim]   one row per token
// Keys are stored transposed so attention scores 16 keys with one vector FMA
// per dimension; values are stored by token for the weighted sum.
#pragma once

#include <cstdint>

#include "engine/backend/backend.hpp"
#include "base/result.hpp"
#include "engine/cpu/aligned_buffer.hpp"
#include "engine/cpu/kernels.hpp"
#include "engine/model/model_config.hpp"

namespace llmd::engine::cpu {

class CpuKvCache {
 public:
  // Bytes per block for a model and shape, holding n_layers layers (-1: all
  // of the model's); 0 if the shape is unsupported.
  static uint64_t block_bytes(const ModelConfig& c, const KvCacheShape& shape, int32_t n_layers = -1);

  // Allocates the pool for n_layers layers (-1: all of the model's); the
  // `layer` arguments below count from 0 within them.
  Status init(const ModelConfig& c, const KvCacheShape& shape, int32_t n_layers = -1);
  bool ready() const { return n_blocks_ > 0; }
  uint64_t bytes() const { return buf_.size(); }
  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  KvElem elem() const { return elem_; }

  const void* k_tile(int32_t block, int layer, int head) const { return base(block) + k_offset(layer, head); }
  const void* v_tile(int32_t block, int layer, int head) const { return base(block) + v_offset(layer, head); }
  // Distance in bytes from a tile of layer l to the same tile of layer l + 1.
  int64_t layer_stride() const { return static_cast<int64_t>(2 * n_head_kv_) * static_cast<int64_t>(tile_bytes_); }

  // Stores one token's keys and values (kv_dim floats each) of one layer;
  // `to_f16` converts for f16 storage (the kernel table's).
  void write(int32_t block, int32_t slot, int layer, const float* k, const float* v,
             void (*to_f16)(const float*, uint16_t*, int64_t));

  void copy_block(int32_t src, int32_t dst);

 private:
  uint8_t* base(int32_t block) const {
    return const_cast<uint8_t*>(buf_.data()) + static_cast<uint64_t>(block) * block_bytes_;
  }
  uint64_t k_offset(int layer, int head) const {
    return (static_cast<uint64_t>(layer) * 2 * n_head_kv_ + static_cast<uint64_t>(head)) * tile_bytes_;
  }
  uint64_t v_offset(int layer, int head) const {
    return ((static_cast<uint64_t>(layer) * 2 + 1) * n_head_kv_ + static_cast<uint64_t>(head)) * tile_bytes_;
  }

  AlignedBuffer buf_;
  int32_t n_blocks_ = 0;
  int32_t block_size_ = 0;
  int32_t n_head_kv_ = 0;
  int32_t head_dim_ = 0;
  KvElem elem_ = KvElem::f16;
  uint64_t tile_bytes_ = 0;   // one head's K (or V) of one layer in one block
  uint64_t block_bytes_ = 0;
};

}  // namespace llmd::engine::cpu
