// A process killed with requests in flight: on the next start its open usage
// rows are closed as interrupted and every reservation is released.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

class CrashRecovery : public test::AuthFixture {
 protected:
  void SetUp() override {}  // the child opens first
};

int64_t count(AuthService& svc, storage::Sql sql) {
  return svc.call_ledger([sql](storage::Database& db) {
    auto st = db.prepare(sql);
    EXPECT_TRUE(*st->step());
    return st->column_int(0);
  });
}

TEST_F(CrashRecovery, KilledProcessLeavesNoOpenRowsOrReservationsAfterRestart) {
  const std::string state = dir_.file("state");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: admit 20 requests, finish 5, then die without any clean-up.
    AuthServiceOptions o;
    o.state_dir = state;
    auto svc = AuthService::open(o);
    if (!svc.ok()) ::_exit(10);
    storage::TeamLimits l;
    l.daily_token_budget = 1'000'000;
    auto team = (*svc)->call_admin(
        [&](storage::Database& db) { return (*svc)->admin().create_team(db, "local:test", "t", l); });
    KeySpec spec{"t", "k", Role::user, std::nullopt, std::nullopt, std::nullopt};
    auto key = (*svc)->call_admin([&](storage::Database& db) { return (*svc)->admin().create_key(db, "local:test", spec); });
    if (!team.ok() || !key.ok()) ::_exit(11);
    auto p = (*svc)->authenticator().authenticate(std::nullopt, key->key);
    if (!p.ok()) ::_exit(12);
    std::vector<AdmissionResult> held;
    for (int i = 0; i < 20; ++i) {
      auto r = (*svc)->admissions().admit_blocking(p.principal, AdmissionRequest{"m", 10, 100, "r"});
      if (!r.admitted()) ::_exit(13);
      held.push_back(std::move(r));
    }
    for (int i = 0; i < 5; ++i) held[static_cast<size_t>(i)].admission.finish({storage::UsageStatus::ok, std::nullopt, 7, 0, std::nullopt});
    (*svc)->call_ledger([](storage::Database&) { return 0; });  // the five settlements are written
    ::kill(::getpid(), SIGKILL);
    ::_exit(14);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  open();  // restart: recovery runs
  EXPECT_EQ(svc_->recovery().rows_closed, 15);
  EXPECT_EQ(svc_->recovery().tokens_released, 15 * 110);
  EXPECT_EQ(count(*svc_, "SELECT count(*) FROM usage"), 20);
  EXPECT_EQ(count(*svc_, "SELECT count(*) FROM usage WHERE status = 'interrupted' AND finished_at IS NOT NULL"), 15);
  EXPECT_EQ(count(*svc_, "SELECT count(*) FROM usage WHERE status = 'ok'"), 5);
  EXPECT_EQ(count(*svc_, "SELECT count(*) FROM usage WHERE status = 'open'"), 0);
  EXPECT_EQ(count(*svc_, "SELECT coalesce(sum(reserved_tokens), 0) FROM budget_usage"), 0);
  EXPECT_EQ(count(*svc_, "SELECT used_tokens FROM budget_usage WHERE length(period) = 10"), 5 * 17 + 15 * 10);
  auto integrity = svc_->call_ledger([](storage::Database& db) {
    auto st = db.prepare("PRAGMA integrity_check");
    EXPECT_TRUE(*st->step());
    return st->column_text(0);
  });
  EXPECT_EQ(integrity, "ok");
  auto check = ledger_check();
  EXPECT_TRUE(check.consistent());
}

TEST_F(CrashRecovery, SecondInstanceOnTheSameStateDirectoryIsRefused) {
  open();
  AuthServiceOptions o;
  o.state_dir = dir_.file("state");
  auto second = AuthService::open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::state_dir_locked);
  o.recover = false;  // tools such as bootstrap-admin may share it
  EXPECT_TRUE(AuthService::open(o).ok());
}

}  // namespace
}  // namespace llmd::auth
