// Rotary position embedding of the new tokens' queries and keys, and their
// K/V written into the paged cache.
//
// KV-cache layout per layer (K and V alike):
//   [n_blocks][n_head_kv][block_size][head_dim] of f16 or f32
// so one block's tokens of one head are contiguous.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/cuda/dtype.hpp"

namespace llmd::engine::cuda {

struct RopeKvArgs {
  const float* qkv = nullptr;   // [n_tokens][(n_head + 2*n_head_kv) * head_dim]: q | k | v
  const float* bias = nullptr;  // optional [(n_head + 2*n_head_kv) * head_dim], added first
  const int32_t* pos = nullptr;  // [n_tokens] absolute position of each token
  const int32_t* seq = nullptr;  // [n_tokens] row of block_tables of each token
  const int32_t* block_tables = nullptr;  // [n_seqs][bt_stride] physical block ids
  int bt_stride = 0;
  const float* rope_cs = nullptr;  // [max_pos][rope_dim/2][2]: cos, sin of pos * inv_freq[i]
  float* q_out = nullptr;           // [n_tokens][n_head][head_dim] f32, rotated
  void* k_cache = nullptr;          // this layer's K, layout above
  void* v_cache = nullptr;          // this layer's V
  DType kv_type = DType::f16;       // f16 or f32 (ignored with kv_rows)
  // A q8_0 cache (kv_q8.hpp): launch_rope_kv writes the rotated keys and the
  // values here instead, [n_tokens][2][n_head_kv][head_dim] f32 (K then V),
  // and launch_store_kv_q8 quantizes them into the cache.
  float* kv_rows = nullptr;
  int n_tokens = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int rope_dim = 0;     // leading dims of each head that rotate (even, <= head_dim)
  int block_size = 16;  // tokens per KV block
  bool neox = false;    // pairs (i, i + rope_dim/2) instead of (2i, 2i+1)
};

// Steps of at least this many tokens run four heads per thread (more loads
// in flight); smaller ones one head per block. Same bits either way.
constexpr int kRopeKvWideTokens = 64;

cudaError_t launch_rope_kv(const RopeKvArgs& a, cudaStream_t stream);

// The rows launch_rope_kv left in a.kv_rows quantized into the q8_0 cache at
// a.k_cache / a.v_cache (layout in kv_q8.hpp), one warp per group of 32.
cudaError_t launch_store_kv_q8(const RopeKvArgs& a, cudaStream_t stream);

// Fills the RoPE table: cs[p][i] = (cos, sin)(p * inv_freq[i]) computed in
// double and rounded to f32, for p < n_pos, i < half.
//   inv_freq [half] f64 (device); cs [n_pos][half][2] f32.
// Copies physical block src to dst in every (layer, K|V) half of the pool.
//   pool: n_halves consecutive halves of half_bytes, each [n_blocks][block_bytes];
//   block_bytes a multiple of 16.
cudaError_t launch_copy_kv_block(void* pool, size_t half_bytes, int n_halves, size_t block_bytes, int src, int dst,
                                 cudaStream_t stream);

cudaError_t launch_rope_table(const double* inv_freq, int half, int n_pos, float* cs, cudaStream_t stream);

}  // namespace llmd::engine::cuda
