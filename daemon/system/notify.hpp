// systemd's notification protocol through libsystemd's sd_notify(): READY=1,
// STATUS=..., WATCHDOG=1, STOPPING=1, and RELOADING=1 with MONOTONIC_USEC=
// (a reload begins; READY=1 ends it). Without NOTIFY_SOCKET (not started by
// systemd) every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace llmd::daemon {

class Notifier {
 public:
  // Reads WATCHDOG_USEC (and WATCHDOG_PID) from the environment.
  Notifier();

  void ready(std::string_view status);
  void status(std::string_view status);
  void stopping(std::string_view status);
  // RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now, as systemd wants it).
  void reloading(std::string_view status);
  void watchdog();

  // How often to send WATCHDOG=1: half of WATCHDOG_USEC; nullopt when the
  // watchdog is off.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return interval_; }

 private:
  void send(std::string_view message);
  std::optional<std::chrono::microseconds> interval_;
};

}  // namespace llmd::daemon
