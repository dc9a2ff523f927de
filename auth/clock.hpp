// Time sources for auth: wall-clock time for the ledger (days, months, expiry)
// and a monotonic clock for token buckets. Tests inject a ManualClock.
#pragma once

#include <atomic>
#include <cstdint>

namespace llmd::auth {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t wall_ms() const = 0;    // ms since the Unix epoch
  virtual int64_t steady_ms() const = 0;  // monotonic ms
};

// The process clocks (system_clock and steady_clock).
const Clock& system_clock();

// A clock that moves only when told to.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t wall_ms = 1'700'000'000'000, int64_t steady_ms = 1'000'000)
      : wall_(wall_ms), steady_(steady_ms) {}
  int64_t wall_ms() const override { return wall_.load(); }
  int64_t steady_ms() const override { return steady_.load(); }
  void advance_ms(int64_t ms) {
    wall_ += ms;
    steady_ += ms;
  }
  void set_wall_ms(int64_t ms) { wall_ = ms; }

 private:
  std::atomic<int64_t> wall_;
  std::atomic<int64_t> steady_;
};

}  // namespace llmd::auth
