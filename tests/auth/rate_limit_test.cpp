// Token buckets, the rate limiter and the headers, on an injected clock.
#include <gtest/gtest.h>

#include "auth/rate_limit_info.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/token_bucket.hpp"

namespace llmd::auth {
namespace {

TEST(TokenBucket, BurstThenSteadyRefill) {
  TokenBucket b(60, 0);  // 60 per minute: one per second
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(b.can_take(1, 0));
    b.take(1, 0);
  }
  EXPECT_FALSE(b.can_take(1, 0));
  EXPECT_EQ(b.ms_until(1, 0), 1000);
  EXPECT_FALSE(b.can_take(1, 999));
  EXPECT_TRUE(b.can_take(1, 1000));
  EXPECT_EQ(b.available(30'000), 30);
  EXPECT_EQ(b.available(10'000'000), 60);  // capped at capacity
  EXPECT_EQ(b.ms_until(61, 0), -1);        // never fits
}

TEST(TokenBucket, GiveBackIsCappedAndLimitsCanChange) {
  TokenBucket b(100, 0);
  b.take(80, 0);
  b.give_back(50, 0);
  EXPECT_EQ(b.available(0), 70);
  b.give_back(1000, 0);
  EXPECT_EQ(b.available(0), 100);
  b.set_per_minute(10, 0);
  EXPECT_EQ(b.capacity(), 10);
  EXPECT_EQ(b.available(0), 10);
  EXPECT_EQ(b.ms_until_full(0), 0);
  b.take(10, 0);
  EXPECT_EQ(b.ms_until_full(0), 60'000);
}

class Limiter : public ::testing::Test {
 protected:
  ManualClock clock_;
  RateLimiter limiter_{clock_};
};

TEST_F(Limiter, PeekSeesRpmAndConcurrencyButTakesNothing) {
  RateLimits l;
  l.team_rpm = 2;
  l.team_max_concurrent = 1;
  l.key_tpm = 10;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter_.peek(1, 10, l).allowed());  // nothing taken
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 5).allowed());
  auto busy = limiter_.peek(1, 10, l);
  EXPECT_EQ(busy.verdict, RateVerdict::concurrency_exceeded);
  limiter_.release(1, 10, 0, false);
  EXPECT_TRUE(limiter_.peek(1, 10, l).allowed());
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 5).allowed());
  limiter_.release(1, 10, 0, false);
  auto empty = limiter_.peek(1, 10, l);
  EXPECT_EQ(empty.verdict, RateVerdict::requests_exceeded);
  EXPECT_EQ(empty.scope, "team");
  EXPECT_GT(empty.retry_after_ms, 0);
  // The TPM bucket is not the peek's business: 10 tokens were taken, yet
  // only admission, with the prompt's size, decides on it.
  clock_.advance_ms(60'000);
  EXPECT_TRUE(limiter_.peek(1, 10, l).allowed());
}

TEST_F(Limiter, RpmPerKeyRefusesWithRetryAfterAndRefills) {
  RateLimits l;
  l.key_rpm = 3;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
  auto d = limiter_.acquire(1, 10, l, 0);
  EXPECT_EQ(d.verdict, RateVerdict::requests_exceeded);
  EXPECT_EQ(d.scope, "key");
  EXPECT_EQ(d.retry_after_ms, 20'000);  // 3 per minute: one every 20 s
  EXPECT_EQ(d.info.limit_requests, 3);
  EXPECT_EQ(d.info.remaining_requests, 0);
  // Another key of the same team is unaffected by this key's limit.
  EXPECT_TRUE(limiter_.acquire(2, 10, l, 0).allowed());
  clock_.advance_ms(20'000);
  EXPECT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
}

TEST_F(Limiter, TeamRpmSharedByItsKeysOnly) {
  RateLimits l;
  l.team_rpm = 2;
  EXPECT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
  EXPECT_TRUE(limiter_.acquire(2, 10, l, 0).allowed());
  auto d = limiter_.acquire(3, 10, l, 0);
  EXPECT_EQ(d.verdict, RateVerdict::requests_exceeded);
  EXPECT_EQ(d.scope, "team");
  EXPECT_TRUE(limiter_.acquire(4, 20, l, 0).allowed());  // another team
}

TEST_F(Limiter, TpmTakesPromptPlusMaxAndReturnsTheUnused) {
  RateLimits l;
  l.team_tpm = 1000;
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 600).allowed());
  auto d = limiter_.acquire(1, 10, l, 600);
  EXPECT_EQ(d.verdict, RateVerdict::tokens_exceeded);
  EXPECT_EQ(d.info.remaining_tokens, 400);
  EXPECT_EQ(d.retry_after_ms, 12'000);  // 200 tokens at 1000/min
  limiter_.release(1, 10, 500, false);  // the first used only 100
  EXPECT_TRUE(limiter_.acquire(1, 10, l, 600).allowed());
  auto big = limiter_.acquire(1, 10, l, 1001);
  EXPECT_EQ(big.verdict, RateVerdict::request_too_large);
  EXPECT_EQ(big.limit, 1000);
}

TEST_F(Limiter, RefusedRequestsConsumeNothing) {
  RateLimits l;
  l.key_rpm = 100;
  l.team_tpm = 100;
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 100).allowed());
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter_.acquire(1, 10, l, 50).allowed());
  // The RPM bucket lost only the one admitted request.
  auto d = limiter_.acquire(1, 10, l, 0);
  ASSERT_TRUE(d.allowed());
  EXPECT_EQ(d.info.remaining_requests, 98);
  EXPECT_EQ(limiter_.in_flight(10), 2);
}

TEST_F(Limiter, ConcurrencyCapPerTeam) {
  RateLimits l;
  l.team_max_concurrent = 2;
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
  ASSERT_TRUE(limiter_.acquire(2, 10, l, 0).allowed());
  auto d = limiter_.acquire(1, 10, l, 0);
  EXPECT_EQ(d.verdict, RateVerdict::concurrency_exceeded);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_TRUE(limiter_.acquire(3, 11, l, 0).allowed());
  limiter_.release(1, 10, 0, false);
  EXPECT_EQ(limiter_.in_flight(10), 1);
  EXPECT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
}

TEST_F(Limiter, ReleaseWithRefundReturnsTheRequest) {
  RateLimits l;
  l.key_rpm = 1;
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
  limiter_.release(1, 10, 0, true);
  EXPECT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
}

TEST_F(Limiter, LimitChangesApplyToExistingBuckets) {
  RateLimits l;
  l.key_rpm = 1;
  ASSERT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
  EXPECT_FALSE(limiter_.acquire(1, 10, l, 0).allowed());
  l.key_rpm.reset();  // limit removed
  EXPECT_TRUE(limiter_.acquire(1, 10, l, 0).allowed());
}

TEST(RateLimitHeaders, OpenAiNamesAndFormats) {
  EXPECT_EQ(format_reset(250), "250ms");
  EXPECT_EQ(format_reset(7000), "7s");
  EXPECT_EQ(format_reset(6500), "7s");
  EXPECT_EQ(format_reset(360'000), "6m0s");
  EXPECT_EQ(format_reset(3'723'000), "1h2m3s");
  EXPECT_EQ(retry_after_seconds(1), 1);
  EXPECT_EQ(retry_after_seconds(20'000), 20);
  EXPECT_EQ(retry_after_seconds(20'001), 21);
  RateLimitInfo info;
  info.limit_requests = 60;
  info.remaining_requests = 0;
  info.reset_requests_ms = 1000;
  HeaderList h;
  append_rate_limit_headers(info, &h);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>("x-ratelimit-limit-requests", "60")));
  EXPECT_EQ(h[2], (std::pair<std::string, std::string>("x-ratelimit-reset-requests", "1s")));
}

}  // namespace
}  // namespace llmd::auth
