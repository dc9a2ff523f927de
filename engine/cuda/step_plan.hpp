// Host-side planning of a forward step: checks a batch against the model and
// the KV pool, cuts it into steps that fit the device buffers, and flattens
// each step into the arrays the kernels read (one upload per step).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend/backend.hpp"
#include "base/result.hpp"
#include "engine/cuda/kernels/attention.hpp"

namespace llmd::engine::cuda {

struct PlanLimits {
  int n_vocab = 0;
  int max_pos = 0;      // positions must stay below this (RoPE table size)
  int n_blocks = 0;     // KV pool size
  int block_size = 16;
  int max_tokens = 0;   // tokens per step
  int max_seqs = 0;     // sequences per step
  bool tiled_attention = false;  // prefill chunks go to the tiled kernel
};

// Every sequence: at least one token, ids in range, positions in range, a
// block table that covers pos + n tokens with valid block ids.
Status validate_batch(const ForwardBatch& batch, const PlanLimits& lim);

struct StepPlan {
  // Per token of the step (flattened in batch order).
  std::vector<int32_t> tokens;
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;   // index into block_tables rows
  // Per logits row of the step: the token it is taken from.
  std::vector<int32_t> rows;
  // Tokens for the per-token attention kernel, and tiles for the tiled one.
  std::vector<int32_t> dlist;
  std::vector<AttnTile> tiles;
  // Block tables of the step's sequences, bt_stride entries each.
  std::vector<int32_t> block_tables;
  int n_seqs = 0;
  int bt_stride = 0;
  int max_ctx = 0;        // longest context among dlist tokens
  bool all_decode = false;  // every sequence brings exactly one token
};

// Cuts the batch into steps. Sequences keep their order; a chunk longer than
// what fits is continued in the next step at the advanced position. Logits
// rows come out in batch order across the steps. `stride_pow2` rounds the
// block-table stride up to a power of two (stable shapes for graph replay).
std::vector<StepPlan> plan_steps(const ForwardBatch& batch, const PlanLimits& lim, bool stride_pow2);

// Dense layout of a step's inputs in one int32 buffer (uploaded with one copy).
struct StepLayout {
  size_t split_len = 0, tokens = 0, pos = 0, seq = 0, rows = 0, dlist = 0, tiles = 0, block_tables = 0, seeds = 0;
  size_t total = 0;  // int32 words
};
StepLayout step_layout(const StepPlan& p);
// Writes the plan into `words` (at least layout.total int32s). `split_len` and
// the per-row sampling seeds are filled in too (seeds may be empty).
void write_step_inputs(const StepPlan& p, const StepLayout& l, int32_t split_len, const std::vector<uint64_t>& seeds,
                       int32_t* words);

}  // namespace llmd::engine::cuda
