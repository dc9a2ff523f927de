// Per-team waiting queues and weighted fair share by virtual token counters.
//
// Every team has a service counter: the tokens processed for it, each charged
// with a configurable weight (prompt or completion), divided by the team's
// weight. Admission takes the next request of the backlogged team with the
// least service, so over time each backlogged team receives processing in
// proportion to its weight, however many requests it queues. A team that
// becomes active (it had nothing waiting or running) starts at the current
// minimum of the active teams, never below it: idle time banks no credit. Ties
// go to the team that became active first, which makes the order deterministic.
//
// Two classes of work share the counters: interactive sequences are always
// taken before batch ones (of any team); among teams with work of the class
// being admitted, the least service goes first.
//
// Not thread-safe: owned by one engine loop.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "scheduler/request.hpp"

namespace llmd::scheduler {

struct FairShareWeights {
  double prompt_token = 1.0;      // charge per prompt token processed (prefill, recompute)
  double completion_token = 1.0;  // charge per completion token processed (decode)
};

struct TeamCounters {
  std::string team;
  double weight = 1.0;
  double service = 0.0;             // weighted virtual tokens (the fair-share counter)
  uint64_t prompt_tokens = 0;       // prompt tokens processed (prefill and recompute)
  uint64_t completion_tokens = 0;   // decode tokens processed
  uint64_t preemptions = 0;         // all of its sequences sent back to waiting
  uint64_t fair_preemptions = 0;    // of those, to give another team (or class) its share
  int32_t waiting = 0;
  int32_t running = 0;
};

class FairQueue {
 public:
  explicit FairQueue(FairShareWeights weights = {}) : weights_(weights) {}

  // Handles name sequences (one per choice of a request); the owner maps them
  // to its objects.

  // Queues a new sequence at the back of its team's queue. `weight` (> 0)
  // updates the team's weight.
  void push_back(const std::string& team, double weight, uint64_t handle, Priority p = Priority::interactive);
  // Queues a sequence at the front of its team's queue (one that must be
  // recomputed, e.g. a choice that could not share its parent's blocks).
  void push_front(const std::string& team, uint64_t handle, Priority p = Priority::interactive);
  // Removes a waiting sequence (aborted); false when it is not waiting.
  bool remove(const std::string& team, uint64_t handle);

  // The team whose sequence is admitted next: among teams with interactive
  // work waiting (else batch work), the least service; nullptr when nothing waits.
  const std::string* next_team() const;
  // The next waiting sequence of `team` (which must have one): interactive first.
  uint64_t front(const std::string& team) const;
  // The class of front(team).
  Priority front_priority(const std::string& team) const;
  // Takes the front sequence of `team`, which starts running.
  uint64_t pop_admitted(const std::string& team);
  // `n` more sequences of `team` run (choices forked from a running one).
  void on_forked(const std::string& team, int32_t n);
  // A running sequence finished or was aborted.
  void on_finished(const std::string& team);
  // A running sequence was preempted: it goes back to the front of the queue.
  // `for_share`: preempted to give another team or class its share (counted
  // apart from preemptions under memory pressure).
  void on_preempted(const std::string& team, uint64_t handle, Priority p = Priority::interactive,
                    bool for_share = false);

  // Charges processed tokens to a team.
  void charge(const std::string& team, int64_t prompt_tokens, int64_t completion_tokens);

  double service(const std::string& team) const;
  int32_t waiting() const { return total_waiting_; }
  int32_t waiting(const std::string& team) const;
  double weight(const std::string& team) const;
  // Snapshot of every team seen so far.
  std::vector<TeamCounters> counters() const;

 private:
  struct Team {
    TeamCounters c;
    std::deque<uint64_t> queue[2];  // by Priority: interactive, batch
    uint64_t active_since = 0;  // activation order, for ties
    bool active = false;
  };

  Team& team(const std::string& name, double weight);
  void activate(Team& t);
  void maybe_deactivate(Team& t);
  void advance_clock();
  static std::deque<uint64_t>& queue_of(Team& t, Priority p) { return t.queue[static_cast<int>(p)]; }

  FairShareWeights weights_;
  std::map<std::string, Team> teams_;
  double clock_ = 0.0;  // monotone minimum service over active teams
  uint64_t activations_ = 0;
  int32_t total_waiting_ = 0;
};

}  // namespace llmd::scheduler
