// TokenBucket: holds up to `capacity` tokens and refills continuously at
// capacity per minute, so a limit of N per minute allows a burst of N and then a
// steady N per minute. Not thread-safe: the RateLimiter guards its buckets.
#pragma once

#include <cstdint>

namespace llmd::auth {

class TokenBucket {
 public:
  // A full bucket holding `per_minute` tokens.
  TokenBucket(int64_t per_minute, int64_t now_ms);

  int64_t capacity() const { return capacity_; }
  // Whole tokens available now.
  int64_t available(int64_t now_ms);
  bool can_take(double n, int64_t now_ms);
  void take(double n, int64_t now_ms);
  // Returns tokens (capped at capacity), e.g. the unused part of a reservation.
  void give_back(double n, int64_t now_ms);
  // Milliseconds until `n` tokens are available; -1 if n exceeds the capacity.
  int64_t ms_until(double n, int64_t now_ms);
  // Milliseconds until the bucket is full again.
  int64_t ms_until_full(int64_t now_ms);
  // Changes the limit, keeping the current level (capped at the new capacity).
  void set_per_minute(int64_t per_minute, int64_t now_ms);

 private:
  void refill(int64_t now_ms);

  int64_t capacity_;
  double per_ms_;
  double tokens_;
  int64_t last_ms_;
};

}  // namespace llmd::auth
