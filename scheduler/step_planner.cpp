#include "scheduler/step_planner.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace llmd::scheduler {

StepPlan StepPlanner::plan() {
  StepPlan plan;
  budget_ = config_.max_batched_tokens;
  ++steps_;

  // Running sequences: decodes first, then chunks of prompts being computed.
  // Preemption edits running_, so walk a copy and skip whoever left it.
  const std::vector<Sequence*> snapshot = running_;
  for (int pass = 0; pass < 2; ++pass) {
    for (Sequence* s : snapshot) {
      if (budget_ <= 0) break;
      if (s->state != SeqState::running) continue;
      const bool decode = s->decoding && s->remaining() == 1;
      if ((pass == 0) != decode) continue;
      if (s->remaining() <= 0) continue;
      const int32_t n = std::min(s->remaining(), budget_);
      if (!reserve_or_preempt(s, s->num_computed + n, plan)) continue;
      plan.seqs.push_back(PlannedSeq{s, n});
      budget_ -= n;
    }
  }
  if (plan.preempted.empty()) admit(plan);

  // Running chunks are charged once admission has settled (a share
  // preemption may have dropped one); admitted chunks were charged as they
  // were admitted, so that each admission sees the ones before it.
  for (const PlannedSeq& p : plan.seqs) {
    if (!p.admitted) charge(p.seq, p.n_tokens);
  }

  plan.n_tokens = config_.max_batched_tokens - budget_;
  return plan;
}

bool StepPlanner::reserve_or_preempt(Sequence* seq, int32_t n_tokens, StepPlan& plan) {
  while (!kv_.reserve(seq->table, n_tokens)) {
    Sequence* victim = pick_victim();
    if (victim == nullptr) return false;  // cannot happen: seq itself is running
    preempt(victim, plan);
    if (victim == seq) return false;
  }
  return true;
}

Sequence* StepPlanner::pick_victim() const {
  // Batch work yields first; then the team with the most service gives up
  // its newest sequence.
  Sequence* victim = nullptr;
  double victim_service = 0;
  bool victim_batch = false;
  for (Sequence* s : running_) {
    const bool batch = s->req->params.priority == Priority::batch;
    const double service = fair_.service(s->req->params.team);
    const bool better = !victim || (batch && !victim_batch) ||
                        (batch == victim_batch && (service > victim_service ||
                                                   (service == victim_service && s->admit_order > victim->admit_order)));
    if (better) {
      victim = s;
      victim_service = service;
      victim_batch = batch;
    }
  }
  return victim;
}

Sequence* StepPlanner::share_victim(const std::string& team, Priority priority, bool kv_short) const {
  // Interactive work takes the newest batch sequence of any team at once.
  if (priority == Priority::interactive) {
    Sequence* newest = nullptr;
    for (Sequence* s : running_) {
      if (s->req->params.priority != Priority::batch) continue;
      if (!newest || s->admit_order > newest->admit_order) newest = s;
    }
    if (newest) return newest;
  }
  const SharePreemption& rule = config_.share_preemption;
  if (!rule.enabled) return nullptr;

  // Slots held per team (of the waiting sequence's class), and the weights of
  // the teams with work of that class running or waiting.
  std::map<std::string, int32_t> held;
  std::map<std::string, int64_t> blocks;  // KV blocks referenced by the team's running sequences
  for (const Sequence* s : running_) {
    if (s->req->params.priority != priority) continue;
    ++held[s->req->params.team];
    blocks[s->req->params.team] += static_cast<int64_t>(s->table.blocks.size());
  }
  double total_weight = fair_.weight(team);
  for (const auto& [t, n] : held) {
    if (t != team) total_weight += fair_.weight(t);
  }
  auto entitled = [&](const std::string& t) {
    return static_cast<double>(config_.max_seqs) * fair_.weight(t) / total_weight;
  };
  const double waiter_service = fair_.service(team);
  const int32_t waiter_held = held.count(team) ? held.at(team) : 0;
  const bool waiter_below_share = waiter_held == 0 || waiter_held + 1 <= entitled(team);
  // When blocks, not slots, are short: a team holding more than its weighted
  // part of the pool while the waiting team holds less than its own.
  const double pool = static_cast<double>(kv_.pool().n_blocks());
  auto entitled_blocks = [&](const std::string& t) { return pool * fair_.weight(t) / total_weight; };
  const bool waiter_below_kv_share =
      kv_short && static_cast<double>(blocks.count(team) ? blocks.at(team) : 0) < entitled_blocks(team);

  Sequence* victim = nullptr;
  double victim_service = 0;
  for (Sequence* s : running_) {
    const std::string& t = s->req->params.team;
    if (t == team || s->req->params.priority != priority) continue;
    if (steps_ - s->admit_step < static_cast<uint64_t>(std::max(rule.min_run_steps, 0))) continue;
    const double service = fair_.service(t);
    if (service < waiter_service) continue;
    const bool over_share = (waiter_below_share && held.at(t) > entitled(t)) ||
                            (waiter_below_kv_share && static_cast<double>(blocks.at(t)) > entitled_blocks(t));
    const bool far_ahead = service > waiter_service + rule.service_gap;
    if (!over_share && !far_ahead) continue;
    if (!victim || service > victim_service || (service == victim_service && s->admit_order > victim->admit_order)) {
      victim = s;
      victim_service = service;
    }
  }
  return victim;
}

void StepPlanner::preempt(Sequence* victim, StepPlan& plan, bool for_share) {
  kv_.release(victim->table);
  victim->num_computed = 0;
  victim->decoding = false;
  victim->state = SeqState::waiting;
  running_.erase(std::find(running_.begin(), running_.end(), victim));
  auto planned = std::find_if(plan.seqs.begin(), plan.seqs.end(),
                              [victim](const PlannedSeq& p) { return p.seq == victim; });
  if (planned != plan.seqs.end()) {
    budget_ += planned->n_tokens;  // its chunk is not run after all
    plan.seqs.erase(planned);
  }
  fair_.on_preempted(victim->req->params.team, victim->handle(), victim->req->params.priority, for_share);
  plan.preempted.push_back(victim);
  if (for_share) ++plan.share_preemptions;
}

void StepPlanner::charge(Sequence* s, int32_t n_tokens) {
  // Only positions never paid for: recomputing after a preemption (or a
  // move) is the scheduler's doing, not the team's.
  const int32_t from = std::max(s->num_computed, s->charged);
  const int32_t to = s->num_computed + n_tokens;
  if (to <= from) return;
  const int32_t prompt = std::max(0, std::min(to, s->prompt_len) - from);
  fair_.charge(s->req->params.team, prompt, (to - from) - prompt);
  s->charged = to;
}

int32_t StepPlanner::occupied_slots() const {
  int32_t n = 0;
  for (const Sequence* s : running_) n += s->req->forked ? 1 : s->req->params.n;
  return n;
}

void StepPlanner::admit(StepPlan& plan) {
  int32_t share_preemptions = 0;
  while (budget_ > 0) {
    const std::string* team = fair_.next_team();
    if (team == nullptr) break;
    Sequence* s = Sequence::from_handle(fair_.front(*team));
    // A request whose choices are not forked yet brings them along.
    const int32_t slots = s->req->forked ? 1 : s->req->params.n;
    bool admitted = false;
    const bool slot_free = occupied_slots() + slots <= config_.max_seqs;
    if (slot_free) {
      const auto match = kv_.match_prefix(s->table.root, s->tokens, s->size() - 1);
      const int32_t n = std::min(s->size() - match.n_tokens, budget_);
      if (kv_.attach(s->table, match, match.n_tokens + n)) {
        admitted = true;
        fair_.pop_admitted(*team);
        s->state = SeqState::running;
        s->num_computed = match.n_tokens;
        s->decoding = false;
        stamp_admission(s);
        running_.push_back(s);
        plan.admitted.push_back(s);
        if (!s->req->admitted) s->req->usage.cached_tokens = match.n_tokens;
        charge(s, n);
        plan.seqs.push_back(PlannedSeq{s, n, true});
        budget_ -= n;
      }
    }
    if (admitted) continue;
    // It does not fit: preempt for it when the share calls for that (batch
    // work yielding to interactive work is not limited per step).
    const Priority priority = s->req->params.priority;
    Sequence* victim = share_victim(*team, priority, /*kv_short=*/slot_free);
    if (victim == nullptr) break;
    const bool yielding = victim->req->params.priority == Priority::batch && priority == Priority::interactive;
    if (!yielding && share_preemptions >= config_.share_preemption.max_per_step) break;
    if (!yielding) ++share_preemptions;
    preempt(victim, plan, true);
  }
}

}  // namespace llmd::scheduler
