// RateLimiter: in-memory token buckets for requests per minute and tokens per
// minute, per key and per team, and the per-team count of requests in flight.
//
// acquire() checks every applicable limit and then takes from all of them, or
// from none, under one mutex: a refused request consumes nothing. Tokens are
// taken for prompt + max_tokens at admission; release() returns the unused part
// when the request ends, together with its concurrency slot.
//
// State lives in this process only: a restart starts every bucket full.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/clock.hpp"
#include "auth/rate_limit_info.hpp"
#include "auth/token_bucket.hpp"

namespace llmd::auth {

struct RateLimits {
  std::optional<int64_t> key_rpm;
  std::optional<int64_t> key_tpm;
  std::optional<int64_t> team_rpm;
  std::optional<int64_t> team_tpm;
  std::optional<int64_t> team_max_concurrent;
};

enum class RateVerdict {
  allowed,
  requests_exceeded,     // an RPM bucket is empty
  tokens_exceeded,       // a TPM bucket lacks the tokens for now
  request_too_large,     // the request needs more tokens than a TPM limit allows at all
  concurrency_exceeded,  // the team has its maximum of requests in flight
};

struct RateDecision {
  RateVerdict verdict = RateVerdict::allowed;
  int64_t retry_after_ms = 0;  // when refused: until every limit would allow it
  std::string scope;           // "key" or "team": which limit refused
  int64_t limit = 0;           // the refusing limit's value
  RateLimitInfo info;          // for the x-ratelimit-* headers
  bool allowed() const { return verdict == RateVerdict::allowed; }
};

class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock) : clock_(clock) {}

  RateDecision acquire(int64_t key_row, int64_t team_id, const RateLimits& limits, int64_t tokens);
  // Would a request be refused now by an RPM bucket or the concurrency cap?
  // Takes nothing: the cheap check before a prompt is tokenized.
  RateDecision peek(int64_t key_row, int64_t team_id, const RateLimits& limits);

  // Ends an acquired request: frees its concurrency slot and returns
  // `unused_tokens` to the TPM buckets; `refund_request` also returns the request
  // itself to the RPM buckets (used when admission fails after acquire()).
  void release(int64_t key_row, int64_t team_id, int64_t unused_tokens, bool refund_request);

  int64_t in_flight(int64_t team_id) const;

 private:
  struct Buckets {
    std::optional<TokenBucket> rpm;
    std::optional<TokenBucket> tpm;
  };
  struct TeamState {
    Buckets buckets;
    int64_t in_flight = 0;
  };

  RateDecision decide(int64_t key_row, int64_t team_id, const RateLimits& limits, int64_t tokens, bool take);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, Buckets> keys_;
  std::unordered_map<int64_t, TeamState> teams_;
};

}  // namespace llmd::auth
