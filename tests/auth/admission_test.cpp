// Admission and settlement: budgets under real concurrency, rate limits, the
// concurrency cap, cancellation, model restrictions.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

using test::AuthFixture;

class Admit : public AuthFixture {
 protected:
  int64_t scalar(storage::Sql sql) {
    return svc_->call_ledger([sql](storage::Database& db) {
      auto st = db.prepare(sql);
      EXPECT_TRUE(st.ok());
      EXPECT_TRUE(*st->step());
      return st->column_int(0);
    });
  }
};

TEST_F(Admit, FiftyConcurrentAgainstABudgetForOneAdmitExactlyOne) {
  storage::TeamLimits l;
  l.daily_token_budget = 100;  // exactly one request of 10 + 90
  make_team("t", l);
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(make_key("t").key);

  std::vector<std::shared_ptr<const Principal>> principals;
  for (const auto& k : keys) principals.push_back(principal_for(k));

  std::atomic<int> go{0};
  std::vector<AdmissionResult> results(50);
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      while (go.load() == 0) std::this_thread::yield();
      results[static_cast<size_t>(i)] = admit(principals[static_cast<size_t>(i) % principals.size()], 10, 90);
    });
  }
  go = 1;
  for (auto& t : threads) t.join();

  int admitted = 0, quota = 0;
  for (const auto& r : results) {
    if (r.admitted()) {
      ++admitted;
    } else {
      ASSERT_TRUE(r.denial);
      EXPECT_EQ(r.denial->http_status, 429);
      EXPECT_EQ(r.denial->code, "insufficient_quota");
      EXPECT_TRUE(r.denial->retry_after_s.has_value());
      ++quota;
    }
  }
  EXPECT_EQ(admitted, 1);
  EXPECT_EQ(quota, 49);
  EXPECT_EQ(scalar("SELECT count(*) FROM usage"), 1);
  EXPECT_EQ(scalar("SELECT reserved_tokens FROM budget_usage WHERE length(period) = 10"), 100);
  auto check = ledger_check();
  EXPECT_TRUE(check.consistent());
  EXPECT_EQ(check.open_rows, 1);
  EXPECT_EQ(svc_->admissions().in_flight(principals[0]->team_id), 1);

  // Settling returns the unused reservation; the ledger stays consistent.
  for (auto& r : results) {
    if (r.admitted()) r.admission.finish({storage::UsageStatus::ok, std::nullopt, 20, 0, 3});
  }
  drain_ledger();
  EXPECT_EQ(scalar("SELECT used_tokens FROM budget_usage WHERE length(period) = 10"), 30);
  EXPECT_EQ(scalar("SELECT reserved_tokens FROM budget_usage WHERE length(period) = 10"), 0);
  check = ledger_check();
  EXPECT_TRUE(check.consistent());
  EXPECT_EQ(check.open_rows, 0);
  EXPECT_EQ(svc_->admissions().in_flight(principals[0]->team_id), 0);
}

TEST_F(Admit, FiftyConcurrentAgainstAnRpmOfOneAdmitExactlyOne) {
  storage::TeamLimits l;
  l.rpm_limit = 1;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  std::atomic<int> go{0}, admitted{0}, limited{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      while (go.load() == 0) std::this_thread::yield();
      auto r = admit(p, 1, 1);
      if (r.admitted()) admitted++;
      else if (r.denial->code == "rate_limit_exceeded") limited++;
    });
  }
  go = 1;
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 1);
  EXPECT_EQ(limited.load(), 49);
  EXPECT_EQ(scalar("SELECT count(*) FROM usage"), 1);  // refused requests never reached SQLite
}

TEST_F(Admit, RpmExceededIs429WithRetryAfterAndOtherTeamsAreUnaffected) {
  storage::TeamLimits l;
  l.rpm_limit = 2;
  make_team("a", l);
  make_team("b", l);
  auto pa = principal_for(make_key("a").key);
  auto pb = principal_for(make_key("b").key);
  ASSERT_TRUE(admit(pa, 1, 1).admitted());
  ASSERT_TRUE(admit(pa, 1, 1).admitted());
  auto r = admit(pa, 1, 1);
  ASSERT_FALSE(r.admitted());
  EXPECT_EQ(r.denial->http_status, 429);
  EXPECT_EQ(r.denial->code, "rate_limit_exceeded");
  EXPECT_EQ(r.denial->retry_after_s, 30);
  auto headers = r.denial->headers();
  ASSERT_FALSE(headers.empty());
  EXPECT_EQ(headers[0].first, "retry-after");
  EXPECT_EQ(r.limits.limit_requests, 2);
  EXPECT_EQ(r.limits.remaining_requests, 0);
  EXPECT_TRUE(admit(pb, 1, 1).admitted());
  EXPECT_TRUE(admit(pb, 1, 1).admitted());
  clock_.advance_ms(30'000);
  EXPECT_TRUE(admit(pa, 1, 1).admitted());
}

TEST_F(Admit, TpmCountsReservationsAndSettlementReturnsTheUnused) {
  storage::TeamLimits l;
  l.tpm_limit = 1000;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  auto a = admit(p, 100, 700);
  ASSERT_TRUE(a.admitted());
  EXPECT_EQ(a.limits.remaining_tokens, 200);
  auto b = admit(p, 100, 300);
  ASSERT_FALSE(b.admitted());
  EXPECT_EQ(b.denial->code, "rate_limit_exceeded");
  a.admission.finish({storage::UsageStatus::ok, std::nullopt, 50, 0, std::nullopt});
  EXPECT_TRUE(admit(p, 100, 300).admitted());
  auto huge = admit(p, 100, 5000);
  ASSERT_FALSE(huge.admitted());
  EXPECT_EQ(huge.denial->code, "rate_limit_exceeded");
  EXPECT_FALSE(huge.denial->retry_after_s);  // waiting would not help
}

TEST_F(Admit, ConcurrencyCapPerTeam) {
  storage::TeamLimits l;
  l.max_concurrent = 2;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  auto a = admit(p, 1, 1);
  auto b = admit(p, 1, 1);
  ASSERT_TRUE(a.admitted() && b.admitted());
  auto c = admit(p, 1, 1);
  ASSERT_FALSE(c.admitted());
  EXPECT_EQ(c.denial->code, "rate_limit_exceeded");
  a.admission.finish({});
  EXPECT_TRUE(admit(p, 1, 1).admitted());
}

TEST_F(Admit, ACancelledRequestIsChargedForWhatItProduced) {
  storage::TeamLimits l;
  l.daily_token_budget = 1000;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  {
    auto a = admit(p, 40, 500);
    ASSERT_TRUE(a.admitted());
    a.admission.record_progress(17);
    // Dropped without finish(): the client went away mid-stream.
  }
  drain_ledger();
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE status = 'cancelled' AND completion_tokens = 17"), 1);
  EXPECT_EQ(scalar("SELECT used_tokens FROM budget_usage WHERE length(period) = 10"), 57);
  EXPECT_EQ(scalar("SELECT reserved_tokens FROM budget_usage WHERE length(period) = 10"), 0);
  EXPECT_TRUE(ledger_check().consistent());
}

TEST_F(Admit, FinishRecordsRealCountsOnce) {
  make_team("t");
  auto p = principal_for(make_key("t").key);
  auto a = admit(p, 40, 500);
  ASSERT_TRUE(a.admitted());
  a.admission.finish({storage::UsageStatus::ok, 38, 120, 32, 15});
  a.admission.finish({storage::UsageStatus::error, 1, 1, 0, 1});  // ignored
  EXPECT_FALSE(a.admission.valid());
  drain_ledger();
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE status = 'ok' AND prompt_tokens = 38 AND completion_tokens = 120"
                   " AND cached_tokens = 32 AND queue_wait_ms = 15 AND charged_tokens = 158"),
            1);
}

TEST_F(Admit, RacingFinishesSettleOnce) {
  make_team("t");
  auto p = principal_for(make_key("t").key);
  for (int i = 0; i < 50; ++i) {
    auto a = admit(p, 10, 10);
    ASSERT_TRUE(a.admitted());
    a.admission.record_progress(3);
    std::thread engine([&] { a.admission.finish({storage::UsageStatus::ok, std::nullopt, 7, 0, std::nullopt}); });
    a.admission.finish({storage::UsageStatus::cancelled, std::nullopt, 3, 0, std::nullopt});
    engine.join();
  }
  drain_ledger();
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE status != 'open'"), 50);
  EXPECT_EQ(svc_->admissions().in_flight(p->team_id), 0);
  EXPECT_TRUE(ledger_check().consistent());
}

TEST_F(Admit, BudgetRenewsAtUtcMidnightAndRetryAfterSaysWhen) {
  storage::TeamLimits l;
  l.daily_token_budget = 100;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  clock_.set_wall_ms(1'704'844'800'000 + 86'400'000 - 10'000);  // 23:59:50 UTC
  auto a = admit(p, 0, 100);
  ASSERT_TRUE(a.admitted());
  a.admission.finish({storage::UsageStatus::ok, 0, 100, 0, std::nullopt});
  auto b = admit(p, 0, 1);
  ASSERT_FALSE(b.admitted());
  EXPECT_EQ(b.denial->code, "insufficient_quota");
  EXPECT_EQ(b.denial->retry_after_s, 10);
  clock_.advance_ms(10'000);
  EXPECT_TRUE(admit(p, 0, 1).admitted());
}

TEST_F(Admit, ModelRestrictionsAndBadCounts) {
  storage::TeamLimits l;
  l.allowed_models = {"small"};
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  EXPECT_TRUE(admit(p, 1, 1, "small").admitted());
  auto r = admit(p, 1, 1, "large");
  ASSERT_FALSE(r.admitted());
  EXPECT_EQ(r.denial->http_status, 403);
  EXPECT_EQ(r.denial->code, "model_not_allowed");
  auto bad = admit(p, -1, 1, "small");
  ASSERT_FALSE(bad.admitted());
  EXPECT_EQ(bad.denial->http_status, 400);
  EXPECT_EQ(scalar("SELECT count(*) FROM usage"), 1);
}

TEST_F(Admit, AnAdmissionOutlivingTheServiceStillSettles) {
  make_team("t");
  auto p = principal_for(make_key("t").key);
  auto a = admit(p, 5, 5);
  ASSERT_TRUE(a.admitted());
  svc_->stop();
  a.admission.finish({storage::UsageStatus::ok, std::nullopt, 3, 0, std::nullopt});  // runs inline
  close();
  open();
  EXPECT_EQ(svc_->recovery().rows_closed, 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE status = 'ok' AND charged_tokens = 8"), 1);
}

}  // namespace
}  // namespace llmd::auth
