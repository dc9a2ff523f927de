#include "auth/rate_limiter.hpp"

#include <algorithm>

namespace llmd::auth {
namespace {

// Creates, updates or drops a bucket to match the configured limit.
void sync_bucket(std::optional<TokenBucket>& bucket, const std::optional<int64_t>& per_minute, int64_t now) {
  if (!per_minute) {
    bucket.reset();
  } else if (!bucket) {
    bucket.emplace(*per_minute, now);
  } else if (bucket->capacity() != *per_minute) {
    bucket->set_per_minute(*per_minute, now);
  }
}

// The tighter of two buckets for the headers: the one with fewer tokens left.
void describe(std::optional<TokenBucket>& a, std::optional<TokenBucket>& b, int64_t now,
              std::optional<int64_t>* limit, std::optional<int64_t>* remaining, std::optional<int64_t>* reset) {
  TokenBucket* pick = nullptr;
  for (auto* candidate : {&a, &b}) {
    if (!*candidate) continue;
    if (!pick || (*candidate)->available(now) < pick->available(now)) pick = &**candidate;
  }
  if (!pick) return;
  *limit = pick->capacity();
  *remaining = pick->available(now);
  *reset = pick->ms_until_full(now);
}

}  // namespace

RateDecision RateLimiter::acquire(int64_t key_row, int64_t team_id, const RateLimits& limits, int64_t tokens) {
  return decide(key_row, team_id, limits, tokens, true);
}

RateDecision RateLimiter::peek(int64_t key_row, int64_t team_id, const RateLimits& limits) {
  return decide(key_row, team_id, limits, 0, false);
}

RateDecision RateLimiter::decide(int64_t key_row, int64_t team_id, const RateLimits& limits, int64_t tokens,
                                 bool take) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.steady_ms();
  Buckets& key = keys_[key_row];
  TeamState& team = teams_[team_id];
  sync_bucket(key.rpm, limits.key_rpm, now);
  sync_bucket(key.tpm, limits.key_tpm, now);
  sync_bucket(team.buckets.rpm, limits.team_rpm, now);
  sync_bucket(team.buckets.tpm, limits.team_tpm, now);

  RateDecision d;
  const double need = static_cast<double>(tokens);
  struct Check {
    std::optional<TokenBucket>* bucket;
    double amount;
    RateVerdict verdict;
    const char* scope;
  };
  const Check checks[] = {
      {&key.tpm, need, RateVerdict::tokens_exceeded, "key"},
      {&team.buckets.tpm, need, RateVerdict::tokens_exceeded, "team"},
      {&key.rpm, 1.0, RateVerdict::requests_exceeded, "key"},
      {&team.buckets.rpm, 1.0, RateVerdict::requests_exceeded, "team"},
  };
  for (const Check& c : checks) {
    if (*c.bucket && c.verdict == RateVerdict::tokens_exceeded && (*c.bucket)->ms_until(c.amount, now) < 0) {
      d.verdict = RateVerdict::request_too_large;
      d.scope = c.scope;
      d.limit = (*c.bucket)->capacity();
      return d;
    }
  }
  if (limits.team_max_concurrent && team.in_flight >= *limits.team_max_concurrent) {
    d.verdict = RateVerdict::concurrency_exceeded;
    d.scope = "team";
    d.limit = *limits.team_max_concurrent;
    d.retry_after_ms = 1000;
  }
  if (d.allowed()) {
    // Refuse if any bucket is short; the wait is until all of them suffice.
    for (const Check& c : checks) {
      if (!*c.bucket) continue;
      int64_t wait = (*c.bucket)->ms_until(c.amount, now);
      if (wait > 0) {
        if (d.allowed() || wait > d.retry_after_ms) {
          d.verdict = c.verdict;
          d.scope = c.scope;
          d.limit = (*c.bucket)->capacity();
        }
        d.retry_after_ms = std::max(d.retry_after_ms, wait);
      }
    }
  }
  if (d.allowed() && take) {
    for (const Check& c : checks) {
      if (*c.bucket) (*c.bucket)->take(c.amount, now);
    }
    team.in_flight += 1;
  }
  describe(key.rpm, team.buckets.rpm, now, &d.info.limit_requests, &d.info.remaining_requests,
           &d.info.reset_requests_ms);
  describe(key.tpm, team.buckets.tpm, now, &d.info.limit_tokens, &d.info.remaining_tokens,
           &d.info.reset_tokens_ms);
  return d;
}

void RateLimiter::release(int64_t key_row, int64_t team_id, int64_t unused_tokens, bool refund_request) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.steady_ms();
  const double unused = static_cast<double>(std::max<int64_t>(0, unused_tokens));
  auto refund = [&](Buckets& b) {
    if (b.tpm && unused > 0) b.tpm->give_back(unused, now);
    if (b.rpm && refund_request) b.rpm->give_back(1.0, now);
  };
  if (auto it = keys_.find(key_row); it != keys_.end()) refund(it->second);
  if (auto it = teams_.find(team_id); it != teams_.end()) {
    refund(it->second.buckets);
    if (it->second.in_flight > 0) it->second.in_flight -= 1;
  }
}

int64_t RateLimiter::in_flight(int64_t team_id) const {
  std::lock_guard lock(mu_);
  auto it = teams_.find(team_id);
  return it == teams_.end() ? 0 : it->second.in_flight;
}

}  // namespace llmd::auth
