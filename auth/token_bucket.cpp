#include "auth/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace llmd::auth {

TokenBucket::TokenBucket(int64_t per_minute, int64_t now_ms)
    : capacity_(per_minute),
      per_ms_(static_cast<double>(per_minute) / 60000.0),
      tokens_(static_cast<double>(per_minute)),
      last_ms_(now_ms) {}

void TokenBucket::refill(int64_t now_ms) {
  if (now_ms > last_ms_) {
    tokens_ = std::min<double>(static_cast<double>(capacity_),
                               tokens_ + static_cast<double>(now_ms - last_ms_) * per_ms_);
    last_ms_ = now_ms;
  }
}

int64_t TokenBucket::available(int64_t now_ms) {
  refill(now_ms);
  return static_cast<int64_t>(std::floor(std::max(0.0, tokens_)));
}

bool TokenBucket::can_take(double n, int64_t now_ms) {
  refill(now_ms);
  return tokens_ + 1e-9 >= n;
}

void TokenBucket::take(double n, int64_t now_ms) {
  refill(now_ms);
  tokens_ -= n;
}

void TokenBucket::give_back(double n, int64_t now_ms) {
  refill(now_ms);
  tokens_ = std::min<double>(static_cast<double>(capacity_), tokens_ + n);
}

int64_t TokenBucket::ms_until(double n, int64_t now_ms) {
  if (n > static_cast<double>(capacity_)) return -1;
  refill(now_ms);
  if (tokens_ >= n) return 0;
  return static_cast<int64_t>(std::ceil((n - tokens_) / per_ms_));
}

int64_t TokenBucket::ms_until_full(int64_t now_ms) {
  refill(now_ms);
  double missing = static_cast<double>(capacity_) - tokens_;
  return missing <= 0 ? 0 : static_cast<int64_t>(std::ceil(missing / per_ms_));
}

void TokenBucket::set_per_minute(int64_t per_minute, int64_t now_ms) {
  refill(now_ms);
  capacity_ = per_minute;
  per_ms_ = static_cast<double>(per_minute) / 60000.0;
  tokens_ = std::min<double>(tokens_, static_cast<double>(per_minute));
}

}  // namespace llmd::auth
