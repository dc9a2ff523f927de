// What the HTTP layer tells a client about its rate limits: the x-ratelimit-*
// headers (OpenAI's names and formats) and Retry-After.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llmd::auth {

// The tightest of the key's and the team's buckets, each half absent when no
// limit applies.
struct RateLimitInfo {
  std::optional<int64_t> limit_requests;
  std::optional<int64_t> remaining_requests;
  std::optional<int64_t> reset_requests_ms;  // until the bucket is full again
  std::optional<int64_t> limit_tokens;
  std::optional<int64_t> remaining_tokens;
  std::optional<int64_t> reset_tokens_ms;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Appends x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the known values.
void append_rate_limit_headers(const RateLimitInfo& info, HeaderList* headers);

// Formats a duration the way OpenAI's reset headers do: "250ms", "7s", "6m0s", "1h2m3s".
std::string format_reset(int64_t ms);

// Seconds for Retry-After: rounded up, at least 1.
int64_t retry_after_seconds(int64_t ms);

}  // namespace llmd::auth
