#include "daemon/system/notify.hpp"

#include <systemd/sd-daemon.h>

#include <time.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "base/log.hpp"

namespace llmd::daemon {

Notifier::Notifier() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    interval_ = std::chrono::microseconds(usec / 2);
  }
}

void Notifier::send(std::string_view message) {
  std::string m(message);
  int r = sd_notify(0, m.c_str());
  if (r < 0) log::warnf("sd_notify failed: %s", std::string(std::strerror(-r)).c_str());
}

namespace {
std::string status_line(std::string_view s) {
  std::string out = "STATUS=";
  for (char c : s) out += (c == '\n') ? ' ' : c;
  return out;
}
}  // namespace

void Notifier::ready(std::string_view status) { send("READY=1\n" + status_line(status)); }
void Notifier::status(std::string_view status) { send(status_line(status)); }
void Notifier::stopping(std::string_view status) { send("STOPPING=1\n" + status_line(status)); }
void Notifier::reloading(std::string_view status) {
  struct timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::uint64_t usec =
      static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\n" + status_line(status));
}
void Notifier::watchdog() { send("WATCHDOG=1"); }

}  // namespace llmd::daemon
