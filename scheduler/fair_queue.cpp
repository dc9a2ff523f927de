#include "scheduler/fair_queue.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

namespace llmd::scheduler {

FairQueue::Team& FairQueue::team(const std::string& name, double weight) {
  auto [it, inserted] = teams_.try_emplace(name);
  Team& t = it->second;
  if (inserted) {
    t.c.team = name;
    t.c.service = clock_;
  }
  if (weight > 0) t.c.weight = weight;
  return t;
}

void FairQueue::advance_clock() {
  double lo = std::numeric_limits<double>::infinity();
  for (const auto& [name, t] : teams_) {
    if (t.active) lo = std::min(lo, t.c.service);
  }
  if (lo != std::numeric_limits<double>::infinity()) clock_ = std::max(clock_, lo);
}

void FairQueue::activate(Team& t) {
  if (t.active) return;
  advance_clock();
  t.c.service = std::max(t.c.service, clock_);
  t.active = true;
  t.active_since = ++activations_;
}

void FairQueue::maybe_deactivate(Team& t) {
  if (t.active && t.c.waiting == 0 && t.c.running == 0) {
    // Remember where the active teams stood before this one leaves.
    advance_clock();
    t.active = false;
  }
}

void FairQueue::push_back(const std::string& name, double weight, uint64_t handle, Priority p) {
  Team& t = team(name, weight);
  activate(t);
  queue_of(t, p).push_back(handle);
  ++t.c.waiting;
  ++total_waiting_;
}

void FairQueue::push_front(const std::string& name, uint64_t handle, Priority p) {
  Team& t = team(name, 0);
  activate(t);
  queue_of(t, p).push_front(handle);
  ++t.c.waiting;
  ++total_waiting_;
}

bool FairQueue::remove(const std::string& name, uint64_t handle) {
  auto it = teams_.find(name);
  if (it == teams_.end()) return false;
  Team& t = it->second;
  for (auto& queue : t.queue) {
    auto q = std::find(queue.begin(), queue.end(), handle);
    if (q == queue.end()) continue;
    queue.erase(q);
    --t.c.waiting;
    --total_waiting_;
    maybe_deactivate(t);
    return true;
  }
  return false;
}

const std::string* FairQueue::next_team() const {
  for (const auto& queue_index : {0, 1}) {
    const Team* best = nullptr;
    for (const auto& [name, t] : teams_) {
      if (t.queue[queue_index].empty()) continue;
      if (!best || t.c.service < best->c.service ||
          (t.c.service == best->c.service && t.active_since < best->active_since)) {
        best = &t;
      }
    }
    if (best) return &best->c.team;
  }
  return nullptr;
}

uint64_t FairQueue::front(const std::string& name) const {
  const Team& t = teams_.at(name);
  assert(t.c.waiting > 0);
  return t.queue[0].empty() ? t.queue[1].front() : t.queue[0].front();
}

Priority FairQueue::front_priority(const std::string& name) const {
  const Team& t = teams_.at(name);
  return t.queue[0].empty() ? Priority::batch : Priority::interactive;
}

uint64_t FairQueue::pop_admitted(const std::string& name) {
  Team& t = teams_.at(name);
  assert(t.c.waiting > 0);
  auto& queue = t.queue[0].empty() ? t.queue[1] : t.queue[0];
  const uint64_t h = queue.front();
  queue.pop_front();
  --t.c.waiting;
  --total_waiting_;
  ++t.c.running;
  return h;
}

void FairQueue::on_forked(const std::string& name, int32_t n) {
  Team& t = teams_.at(name);
  t.c.running += n;
}

void FairQueue::on_finished(const std::string& name) {
  Team& t = teams_.at(name);
  assert(t.c.running > 0);
  --t.c.running;
  maybe_deactivate(t);
}

void FairQueue::on_preempted(const std::string& name, uint64_t handle, Priority p, bool for_share) {
  Team& t = teams_.at(name);
  assert(t.c.running > 0);
  --t.c.running;
  ++t.c.preemptions;
  if (for_share) ++t.c.fair_preemptions;
  queue_of(t, p).push_front(handle);
  ++t.c.waiting;
  ++total_waiting_;
}

void FairQueue::charge(const std::string& name, int64_t prompt_tokens, int64_t completion_tokens) {
  Team& t = teams_.at(name);
  t.c.prompt_tokens += static_cast<uint64_t>(prompt_tokens);
  t.c.completion_tokens += static_cast<uint64_t>(completion_tokens);
  t.c.service += (weights_.prompt_token * static_cast<double>(prompt_tokens) +
                  weights_.completion_token * static_cast<double>(completion_tokens)) /
                 t.c.weight;
}

double FairQueue::service(const std::string& name) const {
  auto it = teams_.find(name);
  return it == teams_.end() ? 0.0 : it->second.c.service;
}

int32_t FairQueue::waiting(const std::string& name) const {
  auto it = teams_.find(name);
  return it == teams_.end() ? 0 : it->second.c.waiting;
}

double FairQueue::weight(const std::string& name) const {
  auto it = teams_.find(name);
  return it == teams_.end() ? 1.0 : it->second.c.weight;
}

std::vector<TeamCounters> FairQueue::counters() const {
  std::vector<TeamCounters> out;
  out.reserve(teams_.size());
  for (const auto& [name, t] : teams_) out.push_back(t.c);
  return out;
}

}  // namespace llmd::scheduler
