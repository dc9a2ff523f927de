// Settings of one model's scheduler loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/backend/backend.hpp"
#include "scheduler/fair_queue.hpp"

namespace llmd::scheduler {

// What the scheduler must know about the model it drives.
struct ModelLimits {
  int32_t n_ctx = 0;    // context length (tokens per sequence)
  int32_t n_vocab = 0;  // logits row length; prompt ids must be below it
  int32_t n_embd = 0;   // hidden-state width; 0: embedding requests are refused
};

// Preemption that keeps the fair share while the batch is full. When the
// team next in the fair order cannot be admitted (no sequence slot or no KV
// blocks), the newest sequence of another team may be preempted for it:
//   - of a team holding more slots than its weighted share of max_seqs while
//     the waiting team holds fewer than its own (when KV blocks are what is
//     short: more blocks than its weighted share of the pool while the
//     waiting team holds fewer than its own), or
//   - of a team whose weighted service leads the waiting team's by more
//     than service_gap,
// and in both cases only a team with at least the waiting team's service.
// Preempted sequences keep their full KV blocks in the prefix cache, so they
// resume cheaply. Batch-priority sequences yield to interactive work at once.
struct SharePreemption {
  bool enabled = true;
  double service_gap = 256.0;  // weighted tokens; the hysteresis of the service rule
  int32_t min_run_steps = 4;   // a sequence runs this many steps before it can be preempted for a share
  int32_t max_per_step = 1;    // preemptions for a share per step (yielding batch work is not limited)
};

struct SchedulerConfig {
  std::string name = "model";     // for logs and the thread name

  // Batching: every step processes at most this many tokens and sequences.
  int32_t max_batched_tokens = 512;
  int32_t max_seqs = 16;
  int32_t max_choices = 4;         // largest n a request may ask for (<= max_seqs)

  // Paged KV-cache: kv_blocks blocks of block_size tokens. With kv_blocks = 0
  // the pool is sized from kv_bytes (the backend says what a block costs), or,
  // when that is 0 too, to hold max_seqs full contexts.
  int32_t block_size = 16;
  int32_t kv_blocks = 0;
  uint64_t kv_bytes = 0;
  engine::KvDtype kv_dtype = engine::KvDtype::f16;

  // Context limit used for admission and for stopping (0 → the model's n_ctx).
  // It is further capped by what the pool can hold for a single sequence.
  int32_t max_context = 0;

  // Admission queue: requests accepted but not yet running. Beyond these,
  // submit() answers "queue_full".
  int32_t max_waiting = 1024;
  int32_t max_waiting_per_team = 256;

  // Fair share: charge per processed prompt / completion token.
  FairShareWeights weights;
  SharePreemption share_preemption;

  // Runs on the engine thread after each step, once the step's events have
  // been delivered, and once more after the last events at shutdown (the HTTP
  // side hands a step's stream notifications to its I/O threads in one go).
  std::function<void()> after_step;

  // Runs once, on the engine thread, when the backend reports that it can no
  // longer compute (a sticky device error): every request has then ended with
  // backend_failed and new ones are refused. Must not block.
  std::function<void(const Error&)> on_backend_failed;
};

}  // namespace llmd::scheduler
