#include "scheduler/device_arbiter.hpp"

#include <algorithm>
#include <limits>

namespace llmd::scheduler {

double DeviceArbiter::bid_locked(const std::vector<TeamStepShare>& teams, Clock::time_point now) {
  // The least service among teams active now (seen within idle_after).
  double floor = std::numeric_limits<double>::infinity();
  for (const auto& [name, t] : teams_) {
    if (now - t.last_seen <= idle_after_) floor = std::min(floor, t.c.service);
  }
  double bid = std::numeric_limits<double>::infinity();
  for (const TeamStepShare& s : teams) {
    auto [it, inserted] = teams_.try_emplace(s.team);
    Team& t = it->second;
    if (inserted) t.c.team = s.team;
    if (s.weight > 0) t.c.weight = s.weight;
    const bool was_idle = inserted || now - t.last_seen > idle_after_;
    if (was_idle && floor != std::numeric_limits<double>::infinity()) t.c.service = std::max(t.c.service, floor);
    t.last_seen = now;
    bid = std::min(bid, t.c.service);
  }
  return bid == std::numeric_limits<double>::infinity() ? 0.0 : bid;
}

double DeviceArbiter::current_bid_locked(const Member& m) const {
  double bid = std::numeric_limits<double>::infinity();
  for (const std::string& name : m.teams) {
    auto it = teams_.find(name);
    if (it != teams_.end()) bid = std::min(bid, it->second.c.service);
  }
  return bid == std::numeric_limits<double>::infinity() ? 0.0 : bid;
}

bool DeviceArbiter::my_turn_locked(int id, Clock::time_point now, Clock::time_point* until) const {
  *until = Clock::time_point::max();
  const Clock::time_point turn_end = turn_start_ + quantum_;
  const bool in_turn = holder_ != 0 && now < turn_end;
  // A release within a turn wakes nobody: the others look again when it is over.
  if (in_turn && holder_ != id) *until = turn_end;
  if (busy_) return false;
  if (in_turn) return holder_ == id;  // the holder's steps follow one another
  const Member& me = members_.at(id);
  for (const auto& [other_id, m] : members_) {
    if (other_id == id || !m.active) continue;
    if (m.waiting) {
      if (m.bid < me.bid || (m.bid == me.bid && m.ticket < me.ticket)) return false;
    } else if (current_bid_locked(m) < me.bid) {
      // Between two of its steps: its turn comes first, for a little while.
      const auto deadline = m.released_at + grace_;
      if (now < deadline) {
        *until = std::min(*until, deadline);
        return false;
      }
    }
  }
  return true;
}

int DeviceArbiter::join() {
  std::lock_guard lk(mu_);
  const int id = ++next_member_;
  members_[id];
  return id;
}

void DeviceArbiter::leave(int member) {
  {
    std::lock_guard lk(mu_);
    members_.erase(member);
    if (holder_ == member) holder_ = 0;
  }
  cv_.notify_all();
}

void DeviceArbiter::idle(int member) {
  {
    std::lock_guard lk(mu_);
    auto it = members_.find(member);
    if (it == members_.end() || !it->second.active) return;
    it->second.active = false;
    if (holder_ == member) holder_ = 0;
  }
  cv_.notify_all();
}

void DeviceArbiter::acquire(int member, const std::vector<TeamStepShare>& teams) {
  std::unique_lock lk(mu_);
  Member& me = members_.at(member);
  auto now = Clock::now();
  me.active = true;
  me.waiting = true;
  me.ticket = ++next_ticket_;
  me.bid = bid_locked(teams, now);
  me.teams.clear();
  for (const TeamStepShare& t : teams) me.teams.push_back(t.team);
  bool waited = false;
  for (;;) {
    Clock::time_point until;
    if (my_turn_locked(member, now, &until)) break;
    waited = true;
    if (until == Clock::time_point::max()) {
      cv_.wait(lk);
    } else {
      cv_.wait_until(lk, until);
    }
    now = Clock::now();
  }
  me.waiting = false;
  busy_ = true;
  ++turns_;
  if (waited) ++contended_;
  if (holder_ == member && now < turn_start_ + quantum_) return;
  // A new turn: members waiting without a deadline (no turn was running when
  // they looked) look again, now with the turn's end as theirs.
  if (holder_ != member && holder_ != 0) ++handovers_;
  holder_ = member;
  turn_start_ = now;
  const bool others_wait = std::any_of(members_.begin(), members_.end(),
                                       [&](const auto& m) { return m.first != member && m.second.waiting; });
  lk.unlock();
  if (others_wait) cv_.notify_all();
}

void DeviceArbiter::release(int member, const std::vector<TeamStepShare>& teams, double seconds) {
  bool turn_over = true;
  {
    std::lock_guard lk(mu_);
    busy_ = false;
    busy_seconds_ += seconds;
    int64_t total = 0;
    for (const TeamStepShare& s : teams) total += std::max<int64_t>(s.tokens, 0);
    const auto now = Clock::now();
    for (const TeamStepShare& s : teams) {
      if (total <= 0 || s.tokens <= 0) continue;
      Team& t = teams_[s.team];
      const double part = seconds * static_cast<double>(s.tokens) / static_cast<double>(total);
      t.c.device_seconds += part;
      t.c.service += part / t.c.weight;
      t.last_seen = now;
    }
    auto it = members_.find(member);
    if (it != members_.end()) it->second.released_at = now;
    // Members waiting within the turn look again at its end by themselves.
    turn_over = holder_ != member || now >= turn_start_ + quantum_;
  }
  if (turn_over) cv_.notify_all();
}

double DeviceArbiter::service(const std::string& team) const {
  std::lock_guard lk(mu_);
  auto it = teams_.find(team);
  return it == teams_.end() ? 0.0 : it->second.c.service;
}

DeviceArbiterStats DeviceArbiter::stats() const {
  std::lock_guard lk(mu_);
  DeviceArbiterStats s;
  s.device = device_;
  s.turns = turns_;
  s.contended = contended_;
  s.handovers = handovers_;
  s.busy_seconds = busy_seconds_;
  for (const auto& [name, t] : teams_) s.teams.push_back(t.c);
  return s;
}

}  // namespace llmd::scheduler
