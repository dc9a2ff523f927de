// The serving mode of llmd-bench-batch: what a shared box's requests get
// through the real scheduler on any backend (`--backend cpu`, `cuda:0`):
//
//   decode at each batch size, with contexts of mixed lengths and sampling
//   (temperature 0.8, top-p 0.95): tokens/s and time per step over steps in
//   which every sequence decodes; with --bandwidth, the share of the floor
//   (weights once per step plus each sequence's KV, at that rate);
//   prefill of one long prompt, in the scheduler's chunks: tokens/s;
//   end to end: N requests submitted at once, each with its own sampling
//   parameters: aggregate completion tokens/s and time to first token
//   (p50, p99).
//
// It prints a table; it asserts nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace llmd::bench {

struct ServingOptions {
  std::vector<int> batches = {1, 8, 32, 64, 128};
  int context_lo = 256;  // prompt lengths of the decode runs, uniform in [lo, hi]
  int context_hi = 2048;
  int decode_tokens = 32;  // generated per sequence in the decode runs
  int prefill = 2048;      // the long prompt
  int chunk = 2048;        // tokens per step (the scheduler's max_batched_tokens)
  int e2e_requests = 64;
  int e2e_prompt = 512;
  int e2e_completion = 256;
  double bandwidth = 0;  // bytes/s for the decode floor; 0: not printed
  uint64_t weight_bytes = 0;   // what one step reads of the weights
  uint64_t kv_token_bytes = 0; // KV bytes of one token (all layers)
};

// Runs the three parts on `backend` and prints their table to stdout.
// Lengths beyond the model's context are clamped to it.
void run_serving_bench(engine::Backend& backend, const engine::Model& model, const engine::Tokenizer& tok,
                       const ServingOptions& o);

}  // namespace llmd::bench
