// Attention over the paged KV-cache (layout in rope_kv.hpp). Causal: the query
// of a token at position p sees keys 0..p of its sequence. Grouped-query
// attention: query head h reads KV head h / (n_head / n_head_kv).
//
// Two kernels:
//  - launch_attention_tokens: one query token per work item, the key range
//    optionally split across blocks (flash-decoding) and merged by a second
//    kernel or by the last block of each group. Used for decode tokens, and for every token when the tiled kernel
//    does not apply (f32 cache, head dims other than 64/128).
//  - launch_attention_prefill: tensor-core flash attention for chunks of
//    consecutive query tokens of one sequence (tiles of 64 queries), f16 cache,
//    head_dim 64 or 128; 16 query rows per warp, K/V tiles double-buffered.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/cuda/dtype.hpp"

namespace llmd::engine::cuda {

// RoPE and the K/V store done by the per-token attention itself (decode
// steps only: every token of a different sequence, launch_rope_kv not run).
// Each token's q is rotated from `qkv` as it is read, and the block whose key
// range holds the token's own position first rotates the token's key and
// stores it and its value in the cache. The arithmetic is rope_kv's, so the
// bits are the same as with launch_rope_kv first.
struct AttnFusedRope {
  const float* qkv = nullptr;   // [n_tokens][(n_head + 2*n_head_kv) * head_dim]: q | k | v; nullptr: off
  const float* bias = nullptr;  // optional [(n_head + 2*n_head_kv) * head_dim]
  const float* rope_cs = nullptr;  // [max_pos][rope_dim/2][2]
  int rope_dim = 0;
  bool neox = false;
};

struct AttnArgs {
  const float* q = nullptr;  // [n_tokens][n_head][head_dim] f32, rotated, unscaled (unused with rope.qkv)
  void* k_cache = nullptr;   // written only with rope.qkv (the tokens' own positions)
  void* v_cache = nullptr;
  DType kv_type = DType::f16;  // f16 or f32 (ignored with kv_q8_0)
  // The cache holds q8_0 rows (kv_q8.hpp; launch_attention_tokens only,
  // without rope, head_dim a multiple of 32).
  bool kv_q8_0 = false;
  const int32_t* pos = nullptr;           // [n_tokens]
  const int32_t* seq = nullptr;           // [n_tokens] row of block_tables
  const int32_t* block_tables = nullptr;  // [n_seqs][bt_stride]
  int bt_stride = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int block_size = 16;
  float scale = 1.0f;  // softmax scale, usually 1/sqrt(head_dim)
  void* out = nullptr;  // [n_tokens][n_head][head_dim] of out_type
  DType out_type = DType::f32;
  AttnFusedRope rope;   // launch_attention_tokens only
};

constexpr int kAttnMaxGroup = 16;   // query heads per KV head supported
constexpr int kAttnKeyTile = 64;    // keys per shared-memory tile
// Split lengths are multiples of this: short contexts still spread over many
// blocks (a batch-1 decode at 256 keys runs 16 splits of 16 keys per KV head).
constexpr int kAttnSplitGranule = 16;
constexpr int kAttnMaxSplits = 4096;  // per token (the merge keeps one weight per split in shared memory)

// Whether launch_attention_tokens supports a shape.
bool attention_tokens_supported(int head_dim, int n_head, int n_head_kv);

// How a token list is split: n_splits blocks per (token, kv head).
struct AttnSplit {
  int n_splits = 1;
};
// Splits for `n_items` tokens whose longest context is `max_ctx` (0: not
// known; the split length is then set per step), on a device with
// `sm_count` multiprocessors, with room for at most `max_partials` (item,
// split) partial results: enough (item, kv head, split) blocks to fill the
// device twice over. With split_keys > 0, also enough that contexts of up to
// `long_ctx` keys are cut into pieces of about split_keys: a batch whose
// contexts differ (256 and 2,048 keys) then spreads its long sequences over
// several blocks instead of leaving them to finish alone.
AttnSplit choose_attention_split(int n_items, int n_head_kv, int max_ctx, int sm_count, int max_partials,
                                 int long_ctx = 0, int split_keys = 0);

// Attention for the tokens token_idx[0..n_items) (indices into q/pos/seq/out
// rows; nullptr means 0..n_items-1). With n_splits > 1, `split_len` (device
// pointer to one int: keys per split, a multiple of kAttnSplitGranule, covering the
// longest context) is read on the device so graphs can replay as contexts
// grow; part_o [n_items*n_splits][n_head][head_dim] and part_ml
// [n_items*n_splits][n_head][2] f32 hold the partial results.
// A second kernel merges the splits.
cudaError_t launch_attention_tokens(const AttnArgs& a, const int32_t* token_idx, int n_items, int n_splits,
                                    const int32_t* split_len, float* part_o, float* part_ml, cudaStream_t stream);

// Host helper: the split length for a longest context of max_ctx keys.
int attention_split_len(int max_ctx, int n_splits);

// Work unit of the tiled prefill kernel: up to 64 consecutive query tokens of
// one sequence.
struct AttnTile {
  int32_t tok0;  // first query's row in q/out
  int32_t n_rows;  // 1..64
  int32_t seq;   // row of block_tables
  int32_t pos0;  // position of the first query
};

bool attention_prefill_supported(int head_dim, DType kv_type, DType out_type);

// How the tiled prefill kernel is run. Every variant does the same arithmetic
// (the same bits); they exist to be measured against each other.
struct PrefillVariant {
  // Two K/V buffers: the next tile is copied during the whole of the current
  // one (else one K and one V buffer, the next K copied while V is used).
  bool double_buffered = true;
  // Blocks ordered tile by tile with every head of a tile together, so the
  // heaviest tiles of all heads start first (else head by head).
  bool tile_major = true;
};

// tiles: device array of n_tiles (at most 65535) AttnTile, heaviest first for
// balance.
cudaError_t launch_attention_prefill(const AttnArgs& a, const AttnTile* tiles, int n_tiles, cudaStream_t stream,
                                     PrefillVariant variant = {});

}  // namespace llmd::engine::cuda
