// The manager's waits: requests waiting for a model to load (acquire), admin
// calls waiting for a model to settle, and the timer thread that ends both
// when they wait too long. Callbacks always run outside the lock.
#include <algorithm>

#include "models/model_manager.hpp"
#include "models/model_manager_state.hpp"

namespace llmd::models {

ModelManager::Ticket ModelManager::acquire(std::string_view name, AcquireCallback done, std::function<void()> tick) {
  std::unique_lock lk(mu_);
  auto now_error = [&](Error e) {
    lk.unlock();
    done(std::move(e));
    return Ticket{0};
  };
  if (stopping_) return now_error(Error(ErrorCode::shutting_down, "the server is shutting down"));
  auto s = find_slot(name);
  if (!s || s->removing) {
    return now_error(Error(ErrorCode::model_not_found,
                           "The model '" + std::string(name) + "' does not exist or you do not have access to it."));
  }
  s->last_used = SteadyClock::now();
  s->last_used_at = unix_now();
  if (s->state == ModelState::ready && !s->draining && s->instance) {
    Lease lease(s->instance, s->leases);
    lk.unlock();
    done(std::move(lease));
    return 0;
  }
  if (s->state == ModelState::failed) {
    return now_error(Error(ErrorCode::model_failed, "The model '" + s->spec.id + "' failed to load: " + s->error));
  }
  const bool resident_soon = s->queued || s->draining || s->state == ModelState::loading ||
                             s->state == ModelState::unloading;
  if (!resident_soon && !options_.load_on_demand) {
    return now_error(Error(ErrorCode::model_not_ready, "The model '" + s->spec.id + "' is not loaded."));
  }
  const Ticket t = next_ticket_++;
  auto w = std::make_unique<Waiter>();
  w->id = s->spec.id;
  w->done = std::move(done);
  w->deadline = SteadyClock::now() + options_.load_timeout;
  if (tick) w->tick = std::make_shared<std::function<void()>>(std::move(tick));
  w->next_tick = SteadyClock::now() + options_.wait_tick;
  waiters_.emplace(t, std::move(w));
  if (!resident_soon) {
    // Unloaded or parked: load (or restore) it for this request.
    s->queued = true;
    if (s->state == ModelState::unloaded) s->state = ModelState::loading;
    queue_op(Op{Op::Kind::load, s->spec.id, ""});
  }
  timer_cv_.notify_one();
  return t;
}

void ModelManager::cancel(Ticket ticket) {
  if (ticket == 0) return;
  std::lock_guard lk(mu_);
  waiters_.erase(ticket);
}

void ModelManager::when_settled(const std::string& id, std::function<void(Result<ModelInfo>)> done) {
  std::unique_lock lk(mu_);
  auto s = find_slot(id);
  Result<ModelInfo> now = Error(ErrorCode::model_not_found, "no model '" + id + "'");
  if (s) {
    const bool moving = s->queued || s->state == ModelState::loading || s->state == ModelState::unloading || s->draining;
    if (!moving) {
      if (s->state == ModelState::ready || s->state == ModelState::parked) {
        now = info_of(*s);
      } else if (s->state == ModelState::failed) {
        now = Error(ErrorCode::model_failed, "model '" + id + "' failed to load: " + s->error);
      } else {
        now = Error(ErrorCode::model_not_ready, "model '" + id + "' is " + std::string(to_string(s->state)));
      }
    } else {
      auto w = std::make_unique<Settle>();
      w->id = id;
      w->done = std::move(done);
      w->deadline = SteadyClock::now() + options_.load_timeout;
      settles_.push_back(std::move(w));
      timer_cv_.notify_one();
      return;
    }
  }
  lk.unlock();
  done(std::move(now));
}

void ModelManager::serve_waiters(const std::shared_ptr<Slot>& s, std::vector<std::function<void()>>* calls) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second->id != s->spec.id) {
      ++it;
      continue;
    }
    auto lease = std::make_shared<Lease>(s->instance, s->leases);
    calls->push_back([done = std::move(it->second->done), lease] { done(std::move(*lease)); });
    it = waiters_.erase(it);
  }
  s->last_used = SteadyClock::now();
}

void ModelManager::fail_waiters(const std::string& id, const Error& e, std::vector<std::function<void()>>* calls) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second->id != id) {
      ++it;
      continue;
    }
    calls->push_back([done = std::move(it->second->done), e] { done(e); });
    it = waiters_.erase(it);
  }
}

void ModelManager::settle(const std::string& id, std::vector<std::function<void()>>* calls) {
  auto s = find_slot(id);
  for (auto it = settles_.begin(); it != settles_.end();) {
    if ((*it)->id != id) {
      ++it;
      continue;
    }
    Result<ModelInfo> r = Error(ErrorCode::model_not_found, "model '" + id + "' was removed");
    if (s && s->spec.id == id) {
      if (s->state == ModelState::failed) {
        r = Error(ErrorCode::model_failed, "model '" + id + "' failed to load: " + s->error);
      } else if (s->state == ModelState::ready || s->state == ModelState::parked) {
        r = info_of(*s);
      } else {
        r = Error(ErrorCode::model_not_ready, "model '" + id + "' is " + std::string(to_string(s->state)));
      }
    }
    calls->push_back([done = std::move((*it)->done), r = std::move(r)]() mutable { done(std::move(r)); });
    it = settles_.erase(it);
  }
}

void ModelManager::timer_loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto next = SteadyClock::now() + std::chrono::seconds(1);
    for (const auto& [t, w] : waiters_) {
      next = std::min(next, w->deadline);
      if (w->tick) next = std::min(next, w->next_tick);
    }
    for (const auto& st : settles_) next = std::min(next, st->deadline);
    timer_cv_.wait_until(lk, next);
    if (stopping_) break;
    const auto now = SteadyClock::now();
    std::vector<std::function<void()>> calls;
    std::vector<std::pair<Ticket, std::shared_ptr<std::function<void()>>>> ticks;
    for (auto& [t, w] : waiters_) {
      if (w->tick && w->next_tick <= now && w->deadline > now) {
        ticks.emplace_back(t, w->tick);
        w->next_tick = now + options_.wait_tick;
      }
    }
    for (auto& [t, tick] : ticks) {
      // Outside the lock, while the waiter still waits; the answer may come
      // on the loader thread while a tick runs (see acquire()).
      if (!waiters_.count(t)) continue;
      lk.unlock();
      (*tick)();
      lk.lock();
    }
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second->deadline > now) {
        ++it;
        continue;
      }
      const Error e(ErrorCode::model_load_timeout, "The model '" + it->second->id + "' is still loading; retry shortly.");
      calls.push_back([done = std::move(it->second->done), e] { done(e); });
      it = waiters_.erase(it);
    }
    for (auto it = settles_.begin(); it != settles_.end();) {
      if ((*it)->deadline > now) {
        ++it;
        continue;
      }
      const Error e(ErrorCode::model_load_timeout, "model '" + (*it)->id + "' did not settle in time");
      calls.push_back([done = std::move((*it)->done), e] { done(e); });
      it = settles_.erase(it);
    }
    if (calls.empty()) continue;
    lk.unlock();
    for (auto& c : calls) c();
    lk.lock();
  }
}

}  // namespace llmd::models
