// The systemd watchdog: WATCHDOG=1 is sent only while llmd makes progress —
// the I/O threads run what is posted to them, and no model's engine loop is
// stuck in one step (a hung GPU kernel, a device that never answers). An idle
// engine loop counts as healthy. When the pings stop, systemd kills llmd
// after WatchdogSec and Restart=on-failure starts a fresh one.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "daemon/http/server.hpp"
#include "daemon/system/notify.hpp"
#include "models/model_manager.hpp"

namespace llmd::daemon {

class Watchdog {
 public:
  // `step_timeout`: the longest one engine step may run before the pings
  // stop; 0 = the tick interval (half of WatchdogSec).
  Watchdog(Notifier& notifier, http::Server& server, const models::ModelManager& models,
           std::chrono::milliseconds step_timeout);

  // How long the main thread waits between ticks: half of WatchdogSec (1 s
  // when the watchdog is off).
  std::chrono::microseconds tick_interval() const;
  void set_step_timeout(std::chrono::milliseconds step_timeout) { step_timeout_ = step_timeout; }

  // Sends WATCHDOG=1 when the I/O threads ran the task posted at the last
  // tick and every engine loop progresses; posts the next task. Nothing
  // without a watchdog.
  void tick();

 private:
  // False while some model's step has run longer than the bound; logs when
  // a loop stalls and when it moves again.
  bool engines_progress();

  Notifier& notifier_;
  http::Server& server_;
  const models::ModelManager& models_;
  std::chrono::milliseconds step_timeout_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::set<std::string> stalled_;  // models whose stall was logged
  bool io_stalled_ = false;
};

}  // namespace llmd::daemon
