#include "daemon/app/watchdog.hpp"

#include "base/log.hpp"

namespace llmd::daemon {

using namespace std::chrono_literals;

Watchdog::Watchdog(Notifier& notifier, http::Server& server, const models::ModelManager& models,
                   std::chrono::milliseconds step_timeout)
    : notifier_(notifier), server_(server), models_(models), step_timeout_(step_timeout) {}

std::chrono::microseconds Watchdog::tick_interval() const { return notifier_.watchdog_interval().value_or(1s); }

void Watchdog::tick() {
  if (!notifier_.watchdog_interval()) return;
  const bool io = alive_->exchange(false);
  if (!io && !io_stalled_) log::errorf("watchdog: the I/O threads did not run a task within %.1f s; pings stop",
                                       std::chrono::duration<double>(tick_interval()).count());
  if (io && io_stalled_) log::noticef("watchdog: the I/O threads respond again");
  io_stalled_ = !io;
  const bool engines = engines_progress();
  if (io && engines) notifier_.watchdog();
  server_.post([alive = alive_] { alive->store(true); });
}

bool Watchdog::engines_progress() {
  const std::chrono::nanoseconds bound =
      step_timeout_ > 0ms ? std::chrono::nanoseconds(step_timeout_) : std::chrono::nanoseconds(tick_interval());
  std::set<std::string> now;
  for (const auto& e : models_.engine_progress()) {
    if (e.in_step <= bound) continue;
    now.insert(e.id);
    if (!stalled_.count(e.id)) {
      log::errorf("watchdog: model '%s' has been in one engine step for %.1f s (the bound is %.1f s: "
                  "[server] watchdog_step_timeout_s); pings stop until it moves",
                  e.id.c_str(), std::chrono::duration<double>(e.in_step).count(),
                  std::chrono::duration<double>(bound).count());
    }
  }
  for (const auto& id : stalled_) {
    if (!now.count(id)) log::noticef("watchdog: model '%s' moves again", id.c_str());
  }
  stalled_ = std::move(now);
  return stalled_.empty();
}

}  // namespace llmd::daemon
