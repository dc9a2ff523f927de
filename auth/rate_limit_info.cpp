#include "auth/rate_limit_info.hpp"

namespace llmd::auth {

std::string format_reset(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t s = (ms + 999) / 1000;
  int64_t h = s / 3600;
  int64_t m = (s % 3600) / 60;
  s %= 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s) + "s";
  return out;
}

int64_t retry_after_seconds(int64_t ms) {
  int64_t s = (ms + 999) / 1000;
  return s < 1 ? 1 : s;
}

void append_rate_limit_headers(const RateLimitInfo& info, HeaderList* headers) {
  auto add = [&](const char* name, const std::optional<int64_t>& v) {
    if (v) headers->emplace_back(name, std::to_string(*v));
  };
  add("x-ratelimit-limit-requests", info.limit_requests);
  add("x-ratelimit-remaining-requests", info.remaining_requests);
  if (info.reset_requests_ms) headers->emplace_back("x-ratelimit-reset-requests", format_reset(*info.reset_requests_ms));
  add("x-ratelimit-limit-tokens", info.limit_tokens);
  add("x-ratelimit-remaining-tokens", info.remaining_tokens);
  if (info.reset_tokens_ms) headers->emplace_back("x-ratelimit-reset-tokens", format_reset(*info.reset_tokens_ms));
}

}  // namespace llmd::auth
