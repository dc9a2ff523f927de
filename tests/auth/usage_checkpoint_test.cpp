// Usage progress checkpoints on a real ledger: a running request's usage row
// records its completion tokens every progress_checkpoint_tokens tokens, so a
// process killed mid-generation (kill -9) is billed, after the restart's
// recovery, for all but at most that many of the tokens it produced.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

constexpr int64_t kEvery = 64;  // AdmissionOptions' default

class UsageCheckpoint : public test::AuthFixture {
 protected:
  int64_t scalar(storage::Sql sql, int64_t id) {
    return svc_->call_ledger([sql, id](storage::Database& db) -> int64_t {
      auto st = db.prepare(sql);
      EXPECT_TRUE(st.ok());
      st->bind(1, id);
      auto row = st->step();
      EXPECT_TRUE(row.ok() && *row);
      return st->column_int(0);
    });
  }
};

TEST_F(UsageCheckpoint, ProgressReachesTheOpenRowEveryNTokens) {
  make_team("t");
  auto p = principal_for(make_key("t").key);
  auto a = admit(p, 10, 1000);
  ASSERT_TRUE(a.admitted());
  const int64_t row = a.admission.usage_id();
  auto recorded = [&] {
    drain_ledger();
    return scalar("SELECT completion_tokens FROM usage WHERE id = ?1", row);
  };
  a.admission.record_progress(kEvery - 1);
  EXPECT_EQ(recorded(), 0);
  a.admission.record_progress(kEvery);
  EXPECT_EQ(recorded(), kEvery);
  a.admission.record_progress(2 * kEvery - 1);
  EXPECT_EQ(recorded(), kEvery);
  a.admission.record_progress(2 * kEvery + 5);
  EXPECT_EQ(recorded(), 2 * kEvery + 5);
  a.admission.finish({storage::UsageStatus::ok, std::nullopt, 200, 0, std::nullopt});
  EXPECT_EQ(recorded(), 200);
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE id = ?1 AND status = 'ok'", row), 1);
  // A checkpoint that arrives after the settlement changes nothing.
  EXPECT_TRUE(svc_->call_ledger([row](storage::Database& db) { return storage::record_usage_progress(db, row, 900); }));
  EXPECT_EQ(recorded(), 200);
  EXPECT_TRUE(ledger_check().consistent());
}

TEST_F(UsageCheckpoint, AKilledProcessLosesAtMostNTokensOfBilling) {
  close();
  const std::string state = dir_.file("state");
  constexpr int64_t kProduced = 300;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: one request generating, its progress reported token by token,
    // then killed without any clean-up.
    AuthServiceOptions o;
    o.state_dir = state;
    auto svc = AuthService::open(o);
    if (!svc.ok()) ::_exit(10);
    auto team = (*svc)->call_admin(
        [&](storage::Database& db) { return (*svc)->admin().create_team(db, "local:test", "t", {}); });
    KeySpec spec{"t", "k", Role::user, std::nullopt, std::nullopt, std::nullopt};
    auto key = (*svc)->call_admin([&](storage::Database& db) { return (*svc)->admin().create_key(db, "local:test", spec); });
    if (!team.ok() || !key.ok()) ::_exit(11);
    auto p = (*svc)->authenticator().authenticate(std::nullopt, key->key);
    if (!p.ok()) ::_exit(12);
    auto r = (*svc)->admissions().admit_blocking(p.principal, AdmissionRequest{"m", 10, 1000, "r"});
    if (!r.admitted()) ::_exit(13);
    for (int64_t t = 1; t <= kProduced; ++t) r.admission.record_progress(t);
    (*svc)->call_ledger([](storage::Database&) { return 0; });  // the checkpoints posted so far are written
    ::kill(::getpid(), SIGKILL);
    ::_exit(14);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

  open();  // restart: recovery closes the row as interrupted
  EXPECT_EQ(svc_->recovery().rows_closed, 1);
  const int64_t billed = svc_->call_ledger([](storage::Database& db) -> int64_t {
    auto st = db.prepare("SELECT completion_tokens FROM usage WHERE status = 'interrupted'");
    EXPECT_TRUE(st.ok() && *st->step());
    return st->column_int(0);
  });
  EXPECT_LE(billed, kProduced);
  EXPECT_GT(billed, kProduced - kEvery);
  EXPECT_TRUE(ledger_check().consistent());
}

}  // namespace
}  // namespace llmd::auth
