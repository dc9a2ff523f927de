// Chooses the work of one engine step (continuous batching).
//
// There are no prefill and decode phases, only sequences with tokens still to
// compute. Under a token budget (max_batched_tokens) and a sequence limit
// (max_seqs) a step takes, in this order:
//   1. every running sequence that is decoding (one token each);
//   2. running sequences still computing their prompt (or recomputing after a
//      preemption), a chunk each, oldest first;
//   3. waiting sequences, admitted one at a time from the backlogged team with
//      the least weighted service (FairQueue), each with a first chunk that
//      reuses its longest cached prefix. When the request next in the fair
//      order does not fit, a running sequence may be preempted for it to keep
//      the fair share (SharePreemption in scheduler_config.hpp); otherwise
//      admission stops there (no skipping ahead of the fair order). Nothing is
//      admitted in a step that had to preempt for memory.
// When a running sequence needs a block and none is free, a batch-priority
// sequence is preempted first, else the most recently admitted sequence of the
// team with the most service: its blocks are released (full ones stay in the
// prefix cache) and it goes back to the front of its team's queue.
//
// Tokens are charged to their team's fair-share counter as they are planned,
// each position of a sequence once (recomputation after a preemption is free).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kv/kv_cache_manager.hpp"
#include "scheduler/fair_queue.hpp"
#include "scheduler/scheduler_config.hpp"
#include "scheduler/sequence.hpp"

namespace llmd::scheduler {

struct PlannedSeq {
  Sequence* seq = nullptr;
  int32_t n_tokens = 0;  // tokens[num_computed, num_computed + n_tokens) this step
  bool admitted = false; // admitted this step (its chunk is charged at admission)
};

struct StepPlan {
  std::vector<PlannedSeq> seqs;
  int32_t n_tokens = 0;
  std::vector<Sequence*> preempted;  // running sequences sent back to waiting
  std::vector<Sequence*> admitted;   // waiting sequences that started running
  int32_t share_preemptions = 0;     // of `preempted`, those preempted for a fair share
  bool empty() const { return seqs.empty(); }
};

class StepPlanner {
 public:
  StepPlanner(const SchedulerConfig& config, engine::kv::KvCacheManager& kv, FairQueue& fair,
              std::vector<Sequence*>& running)
      : config_(config), kv_(kv), fair_(fair), running_(running) {}

  StepPlan plan();

  // Stamps a sequence that starts running outside plan() (forks) as admitted now.
  void stamp_admission(Sequence* s) {
    s->admit_order = ++admit_counter_;
    s->admit_step = steps_;
  }

  // Sends a running sequence back to the front of its team's queue: its
  // blocks are released and it recomputes its tokens when admitted again.
  // Drops its chunk from `plan` if it had one; adds it to plan.preempted.
  void preempt(Sequence* victim, StepPlan& plan, bool for_share = false);

 private:
  // Makes room for `seq` to cover n_tokens, preempting as needed; false when
  // `seq` itself was preempted.
  bool reserve_or_preempt(Sequence* seq, int32_t n_tokens, StepPlan& plan);
  Sequence* pick_victim() const;
  // Charges the chunk [num_computed, num_computed + n_tokens) of `s` to its
  // team, except positions it was charged for before.
  void charge(Sequence* s, int32_t n_tokens);
  // A running sequence to preempt so that the waiting front sequence of
  // `team` (of class `priority`) can be admitted, or nullptr when the fair
  // share does not call for it (SharePreemption). `kv_short`: it failed for
  // want of KV blocks rather than of a slot.
  Sequence* share_victim(const std::string& team, Priority priority, bool kv_short) const;
  // Sequence slots taken: running ones plus the choices that running, not yet
  // forked requests will add.
  int32_t occupied_slots() const;
  void admit(StepPlan& plan);

  const SchedulerConfig& config_;
  engine::kv::KvCacheManager& kv_;
  FairQueue& fair_;
  std::vector<Sequence*>& running_;
  uint64_t admit_counter_ = 0;
  uint64_t steps_ = 0;  // plans made
  int32_t budget_ = 0;  // tokens left in the step being planned
};

}  // namespace llmd::scheduler
