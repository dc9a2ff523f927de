// Counters of one scheduler, read as a consistent snapshot from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "scheduler/fair_queue.hpp"

namespace llmd::scheduler {

struct SchedulerStats {
  // KV block pool.
  int32_t kv_blocks_total = 0;
  int32_t kv_blocks_used = 0;       // referenced by a running sequence
  int32_t kv_blocks_cached = 0;     // registered in the prefix cache (referenced or not)
  int32_t kv_blocks_evictable = 0;  // cached and unreferenced
  int32_t kv_block_size = 0;
  uint64_t kv_evictions = 0;

  // Prefix cache: prompt tokens reused instead of computed.
  uint64_t prefix_hit_tokens = 0;
  uint64_t prefix_query_tokens = 0;  // prompt tokens of admissions (hit ratio denominator)

  // Work.
  uint64_t steps = 0;
  uint64_t tokens_processed = 0;
  uint64_t preemptions = 0;
  uint64_t share_preemptions = 0;  // of those, to keep the fair share (the rest: memory pressure, moves)
  int32_t last_batch_seqs = 0;
  int32_t last_batch_tokens = 0;
  uint64_t batch_seqs_sum = 0;  // over steps, for the average
  // Steps by sequences in the batch: 1, 2, 3-4, 5-8, 9-16, 17-32, 33-64, >64.
  std::array<uint64_t, 8> batch_seqs_histogram{};

  // Requests.
  uint64_t requests_submitted = 0;
  uint64_t requests_rejected = 0;
  uint64_t requests_finished = 0;  // ended with done, any reason
  uint64_t requests_aborted = 0;
  int32_t waiting = 0;  // sequences queued
  int32_t running = 0;  // sequences admitted

  std::vector<TeamCounters> teams;

  double avg_batch_seqs() const {
    return steps == 0 ? 0.0 : static_cast<double>(batch_seqs_sum) / static_cast<double>(steps);
  }
  static size_t histogram_bucket(int32_t seqs) {
    size_t b = 0;
    for (int32_t limit = 1; seqs > limit && b < 7; limit *= 2) ++b;
    return b;
  }
};

}  // namespace llmd::scheduler
