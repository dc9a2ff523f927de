// The usage ledger: reservations against budgets, settlement, crash recovery,
// the consistency check, reports and the UTC calendar.
#include <gtest/gtest.h>

#include "storage/calendar.hpp"
#include "storage/key_store.hpp"
#include "storage/migrations.hpp"
#include "storage/team_store.hpp"
#include "storage/usage_ledger.hpp"
#include "storage/usage_report.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kJan10 = 1'704'844'800'000;  // 2024-01-10T00:00:00Z

class Ledger : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = open_database(dir_.file("l.db"));
    ASSERT_TRUE(d.ok()) << d.error().message;
    db_ = std::move(*d);
    TeamLimits l;
    l.daily_token_budget = 1000;
    l.monthly_token_budget = 2500;
    auto t = create_team(*db_, "ops", l, kJan10);
    ASSERT_TRUE(t.ok());
    team_ = t->id;
    NewKey k;
    k.key_id = "KEY0000000000001";
    k.team_id = team_;
    k.name = "ci";
    k.role = "user";
    auto kr = insert_key(*db_, k, kJan10);
    ASSERT_TRUE(kr.ok());
    key_ = kr->id;
  }

  Result<ReserveResult> reserve(int64_t prompt, int64_t max_tokens, int64_t at, const std::string& model = "m") {
    ReserveRequest r;
    r.team_id = team_;
    r.key_row = key_;
    r.model = model;
    r.request_id = "req";
    r.prompt_tokens = prompt;
    r.reserve_tokens = prompt + max_tokens;
    r.now_ms = at;
    return reserve_usage(*db_, r);
  }

  Result<SettleResult> settle(int64_t id, int64_t prompt, int64_t completion, UsageStatus st = UsageStatus::ok) {
    Settlement s;
    s.usage_id = id;
    s.status = st;
    s.prompt_tokens = prompt;
    s.completion_tokens = completion;
    s.queue_wait_ms = 7;
    s.now_ms = kJan10 + 1000;
    return settle_usage(*db_, s);
  }

  void expect_consistent() {
    auto c = check_ledger(*db_);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_TRUE(c->consistent()) << (c->problems.empty() ? "" : c->problems[0]);
  }

  test::TempDir dir_;
  std::unique_ptr<Database> db_;
  int64_t team_ = 0;
  int64_t key_ = 0;
};

TEST_F(Ledger, ReserveWithinBudgetWritesAnOpenRow) {
  auto r = reserve(100, 200, kJan10 + 5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->outcome, ReserveOutcome::reserved);
  EXPECT_GT(r->usage_id, 0);
  EXPECT_EQ(r->day.period, "2024-01-10");
  EXPECT_EQ(r->month.period, "2024-01");
  EXPECT_EQ(r->day.reserved, 300);
  EXPECT_EQ(r->day.remaining(), 700);
  EXPECT_EQ(r->day.ends_at_ms, kJan10 + kDay);
  auto status = team_budget_status(*db_, team_, kJan10 + 10);
  EXPECT_EQ(status->day.reserved, 300);
  EXPECT_EQ(status->month.reserved, 300);
  expect_consistent();
}

TEST_F(Ledger, DailyBudgetIsEnforcedIncludingReservations) {
  auto a = reserve(100, 500, kJan10);
  ASSERT_EQ(a->outcome, ReserveOutcome::reserved);
  auto b = reserve(100, 300, kJan10);  // 600 + 400 = 1000: exactly fits
  ASSERT_EQ(b->outcome, ReserveOutcome::reserved);
  auto c = reserve(1, 0, kJan10);
  EXPECT_EQ(c->outcome, ReserveOutcome::daily_budget_exhausted);
  EXPECT_EQ(c->day.remaining(), 0);
  // Settling returns the unused part: a used 150 of 600, b used 120 of 400.
  ASSERT_TRUE(settle(a->usage_id, 100, 50)->settled);
  ASSERT_TRUE(settle(b->usage_id, 100, 20)->settled);
  auto status = team_budget_status(*db_, team_, kJan10);
  EXPECT_EQ(status->day.used, 270);
  EXPECT_EQ(status->day.reserved, 0);
  auto d = reserve(100, 630, kJan10);
  EXPECT_EQ(d->outcome, ReserveOutcome::reserved);
  expect_consistent();
}

TEST_F(Ledger, NextDayHasAFreshDailyBudgetButTheMonthRemembers) {
  auto a = reserve(0, 1000, kJan10);
  ASSERT_EQ(a->outcome, ReserveOutcome::reserved);
  ASSERT_TRUE(settle(a->usage_id, 0, 1000).ok());
  EXPECT_EQ(reserve(0, 1, kJan10 + kDay - 1)->outcome, ReserveOutcome::daily_budget_exhausted);
  auto b = reserve(0, 1000, kJan10 + kDay);
  ASSERT_EQ(b->outcome, ReserveOutcome::reserved);
  ASSERT_TRUE(settle(b->usage_id, 0, 1000).ok());
  // 2000 used this month, 500 left of 2500.
  auto c = reserve(0, 501, kJan10 + 2 * kDay);
  EXPECT_EQ(c->outcome, ReserveOutcome::monthly_budget_exhausted);
  EXPECT_EQ(c->month.remaining(), 500);
  EXPECT_EQ(reserve(0, 500, kJan10 + 2 * kDay)->outcome, ReserveOutcome::reserved);
  // February starts over.
  EXPECT_EQ(reserve(0, 1000, kJan10 + 22 * kDay)->outcome, ReserveOutcome::reserved);
  expect_consistent();
}

TEST_F(Ledger, SettlingTwiceIsANoOpAndValuesAreRecorded) {
  auto a = reserve(10, 90, kJan10);
  auto s1 = settle(a->usage_id, 12, 30, UsageStatus::cancelled);
  ASSERT_TRUE(s1.ok());
  EXPECT_TRUE(s1->settled);
  EXPECT_EQ(s1->charged_tokens, 42);
  EXPECT_EQ(s1->released_tokens, 100);
  auto s2 = settle(a->usage_id, 12, 999);
  ASSERT_TRUE(s2.ok());
  EXPECT_FALSE(s2->settled);
  EXPECT_FALSE(settle(424242, 1, 1)->settled);
  auto st = db_->prepare(
      "SELECT status, prompt_tokens, completion_tokens, charged_tokens, queue_wait_ms, finished_at FROM usage"
      " WHERE id = ?1");
  st->bind(1, a->usage_id);
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "cancelled");
  EXPECT_EQ(st->column_int(1), 12);
  EXPECT_EQ(st->column_int(2), 30);
  EXPECT_EQ(st->column_int(3), 42);
  EXPECT_EQ(st->column_int(4), 7);
  EXPECT_EQ(st->column_int(5), kJan10 + 1000);
  expect_consistent();
}

TEST_F(Ledger, BadInputIsRefused) {
  EXPECT_EQ(reserve(-1, 5, kJan10).error().code, ErrorCode::usage_invalid);
  ReserveRequest r;
  r.team_id = team_;
  r.key_row = key_;
  r.prompt_tokens = 10;
  r.reserve_tokens = 5;  // less than the prompt
  EXPECT_FALSE(reserve_usage(*db_, r).ok());
  auto a = reserve(1, 1, kJan10);
  EXPECT_EQ(settle(a->usage_id, -1, 0).error().code, ErrorCode::usage_invalid);
  EXPECT_EQ(settle(a->usage_id, 1, 0, UsageStatus::open).error().code, ErrorCode::usage_invalid);
  expect_consistent();
}

TEST_F(Ledger, DeletedTeamCannotReserve) {
  ASSERT_TRUE(delete_team(*db_, team_, kJan10).ok());
  auto r = reserve(1, 1, kJan10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ReserveOutcome::team_not_found);
}

TEST_F(Ledger, InterruptedRowsAreClosedAndTheirReservationsReleased) {
  auto a = reserve(10, 100, kJan10);
  auto b = reserve(20, 100, kJan10);
  auto c = reserve(30, 100, kJan10);
  ASSERT_TRUE(settle(b->usage_id, 20, 5).ok());
  auto rec = close_interrupted_usage(*db_, kJan10 + 99);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->rows_closed, 2);
  EXPECT_EQ(rec->tokens_released, 110 + 130);
  auto status = team_budget_status(*db_, team_, kJan10);
  EXPECT_EQ(status->day.reserved, 0);
  EXPECT_EQ(status->day.used, 25 + 10 + 30);  // interrupted rows charge their prompt
  auto st = db_->prepare("SELECT count(*) FROM usage WHERE status = 'interrupted' AND finished_at = ?1");
  st->bind(1, kJan10 + 99);
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int(0), 2);
  EXPECT_EQ(close_interrupted_usage(*db_, kJan10 + 100)->rows_closed, 0);
  EXPECT_FALSE(settle(a->usage_id, 10, 50)->settled);  // a late settlement changes nothing
  (void)c;
  expect_consistent();
}

TEST_F(Ledger, ConsistencyCheckFindsTamperedCountersAndRebuildRepairs) {
  auto a = reserve(10, 100, kJan10);
  auto b = reserve(10, 100, kJan10);
  ASSERT_TRUE(settle(a->usage_id, 10, 10).ok());
  ASSERT_TRUE(db_->prepare("UPDATE budget_usage SET used_tokens = used_tokens + 5")->run().ok());
  auto c = check_ledger(*db_);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->consistent());
  EXPECT_EQ(c->open_rows, 1);
  ASSERT_TRUE(rebuild_budget_counters(*db_).ok());
  expect_consistent();
  auto status = team_budget_status(*db_, team_, kJan10);
  EXPECT_EQ(status->day.used, 20);
  EXPECT_EQ(status->day.reserved, 110);
  (void)b;
}

TEST_F(Ledger, ReportGroupsByDayTeamKeyAndModel) {
  ASSERT_TRUE(settle(reserve(10, 10, kJan10, "a")->usage_id, 10, 5).ok());
  ASSERT_TRUE(settle(reserve(10, 10, kJan10 + 5, "a")->usage_id, 10, 7).ok());
  ASSERT_TRUE(settle(reserve(10, 10, kJan10 + 6, "b")->usage_id, 10, 1, UsageStatus::error).ok());
  ASSERT_TRUE(settle(reserve(10, 10, kJan10 + kDay, "a")->usage_id, 10, 2).ok());
  (void)reserve(3, 10, kJan10 + kDay, "a");  // still open
  auto all = summarize_usage(*db_, {});
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 3u);
  const UsageSummary& first = (*all)[0];
  EXPECT_EQ(first.day, "2024-01-10");
  EXPECT_EQ(first.team, "ops");
  EXPECT_EQ(first.key_id, "KEY0000000000001");
  EXPECT_EQ(first.model, "a");
  EXPECT_EQ(first.requests, 2);
  EXPECT_EQ(first.prompt_tokens, 20);
  EXPECT_EQ(first.completion_tokens, 12);
  EXPECT_EQ(first.queue_wait_ms_total, 14);
  EXPECT_EQ((*all)[1].errors, 1);
  EXPECT_EQ((*all)[2].open, 1);
  EXPECT_EQ((*all)[2].requests, 2);

  UsageQuery q;
  q.model = "b";
  EXPECT_EQ(summarize_usage(*db_, q)->size(), 1u);
  q = {};
  q.from_day = "2024-01-11";
  EXPECT_EQ(summarize_usage(*db_, q)->size(), 1u);
  q = {};
  q.team = "ops' OR '1'='1";
  auto none = summarize_usage(*db_, q);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  q = {};
  q.to_day = "2024-13-01";
  EXPECT_EQ(summarize_usage(*db_, q).error().code, ErrorCode::usage_invalid);
  expect_consistent();  // the report's rollup equals the rows
}

// The report reads a rollup that triggers keep; every kind of write to the
// ledger (admission, progress, settlement, recovery, a row deleted by hand)
// keeps it equal to the rows, and the consistency check sees it drift.
TEST_F(Ledger, TheReportsRollupFollowsEveryWriteAndTheCheckSeesItDrift) {
  auto a = reserve(10, 100, kJan10, "a");
  auto b = reserve(20, 100, kJan10, "a");
  auto c = reserve(30, 100, kJan10 + kDay, "b");
  expect_consistent();
  ASSERT_TRUE(record_usage_progress(*db_, b->usage_id, 40).ok());
  expect_consistent();
  ASSERT_TRUE(settle(a->usage_id, 10, 5).ok());
  expect_consistent();
  ASSERT_TRUE(close_interrupted_usage(*db_, kJan10 + 99).ok());
  expect_consistent();
  auto report = summarize_usage(*db_, {});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->size(), 2u);
  EXPECT_EQ((*report)[0].requests, 2);
  EXPECT_EQ((*report)[0].ok, 1);
  EXPECT_EQ((*report)[0].interrupted, 1);
  EXPECT_EQ((*report)[0].open, 0);
  EXPECT_EQ((*report)[0].completion_tokens, 5 + 40);
  EXPECT_EQ((*report)[1].interrupted, 1);
  ASSERT_TRUE(db_->prepare("DELETE FROM usage WHERE model = 'b'")->run().ok());
  ASSERT_TRUE(rebuild_budget_counters(*db_).ok());  // the budget counters are not the rollup's business
  expect_consistent();
  EXPECT_EQ(summarize_usage(*db_, {})->size(), 1u);
  ASSERT_TRUE(db_->prepare("UPDATE usage_daily SET prompt_tokens = prompt_tokens + 1")->run().ok());
  auto drift = check_ledger(*db_);
  ASSERT_TRUE(drift.ok());
  ASSERT_FALSE(drift->consistent());
  EXPECT_NE(drift->problems[0].find("rollup"), std::string::npos) << drift->problems[0];
  (void)c;
}

TEST(Calendar, PeriodsAndTheirEnds) {
  Periods p = periods_at(kJan10 + 5);
  EXPECT_EQ(p.day, "2024-01-10");
  EXPECT_EQ(p.month, "2024-01");
  EXPECT_EQ(p.day_end_ms, kJan10 + kDay);
  EXPECT_EQ(p.month_end_ms, kJan10 + 22 * kDay);  // 2024-02-01
  Periods leap = periods_at(*parse_day("2024-02-29") + kDay - 1);
  EXPECT_EQ(leap.day, "2024-02-29");
  EXPECT_EQ(leap.month_end_ms, *parse_day("2024-03-01"));
  Periods dec = periods_at(*parse_day("2023-12-31"));
  EXPECT_EQ(dec.month_end_ms, *parse_day("2024-01-01"));
  EXPECT_EQ(periods_at(-1).day, "1969-12-31");
  EXPECT_FALSE(parse_day("2023-02-29"));
  EXPECT_FALSE(parse_day("2023-1-01"));
  EXPECT_FALSE(parse_day("abcd-ef-gh"));
}

}  // namespace
}  // namespace llmd::storage
