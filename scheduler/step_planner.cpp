#include "scheduler/step_planner.hpp"

#include <algorithm>

namespace llmd::scheduler {

StepPlan StepPlanner::plan() {
  StepPlan plan;
  budget_ = config_.max_batched_tokens;

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
  for (const PlannedSeq& p : plan.seqs) {
    const bool decode = p.seq->decoding;
    fair_.charge(p.seq->req->params.team, decode ? 0 : p.n_tokens, decode ? p.n_tokens : 0);
  }

  if (plan.preempted.empty()) admit(plan);

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
  Sequence* victim = nullptr;
  double victim_service = 0;
  for (Sequence* s : running_) {
    const double service = fair_.service(s->req->params.team);
    if (!victim || service > victim_service ||
        (service == victim_service && s->admit_order > victim->admit_order)) {
      victim = s;
      victim_service = service;
    }
  }
  return victim;
}

void StepPlanner::preempt(Sequence* victim, StepPlan& plan) {
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
  fair_.on_preempted(victim->req->params.team, victim->handle());
  plan.preempted.push_back(victim);
}

int32_t StepPlanner::occupied_slots() const {
  int32_t n = 0;
  for (const Sequence* s : running_) n += s->req->forked ? 1 : s->req->params.n;
  return n;
}

void StepPlanner::admit(StepPlan& plan) {
  while (budget_ > 0 && occupied_slots() < config_.max_seqs) {
    const std::string* team = fair_.next_team();
    if (team == nullptr) break;
    Sequence* s = Sequence::from_handle(fair_.front(*team));
    // A request whose choices are not forked yet brings them along.
    const int32_t slots = s->req->forked ? 1 : s->req->params.n;
    if (occupied_slots() + slots > config_.max_seqs) break;

    const auto match = kv_.match_prefix(s->table.root, s->tokens, s->size() - 1);
    const int32_t n = std::min(s->size() - match.n_tokens, budget_);
    if (!kv_.attach(s->table, match, match.n_tokens + n)) break;

    fair_.pop_admitted(*team);
    s->state = SeqState::running;
    s->num_computed = match.n_tokens;
    s->decoding = false;
    s->admit_order = next_admit_order();
    running_.push_back(s);
    plan.admitted.push_back(s);
    if (!s->req->admitted) s->req->usage.cached_tokens = match.n_tokens;

    fair_.charge(*team, n, 0);
    plan.seqs.push_back(PlannedSeq{s, n});
    budget_ -= n;
  }
}

}  // namespace llmd::scheduler
