// kill -9 at every step of the ledger's work: a child process admits,
// checkpoints and settles requests and is killed at its N-th write to the
// database (the VFS shim), for each N in turn. After each, a restart's
// recovery leaves a database that passes integrity_check, a consistent
// ledger, no open row and no reservation, and bills every request within the
// checkpoint bound: settled rows exactly, interrupted rows for their prompt
// and at most 64 fewer completion tokens than they produced.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/auth/auth_fixture.hpp"
#include "tests/storage/faulty_vfs.hpp"

namespace llmd::auth {
namespace {

constexpr int kRequests = 4;
constexpr int64_t kPrompt = 10;
constexpr int64_t kProduced = 150;  // completion tokens per request
constexpr int64_t kEvery = 64;      // AdmissionOptions' default checkpoint interval

class LedgerKill : public test::AuthFixture {
 protected:
  void SetUp() override {
    open();
    make_team("t");
    key = make_key("t").key;
    close();
  }

  // The child: serve kRequests requests, reporting progress token by token,
  // and die at its n-th database write. Returns only in the parent.
  void run_child(long n) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      test::FaultyVfs vfs;
      AuthServiceOptions o;
      o.state_dir = dir_.file("state");
      auto svc = AuthService::open(o);
      if (!svc.ok()) ::_exit(10);
      auto p = (*svc)->authenticator().authenticate(std::nullopt, key);
      if (!p.ok()) ::_exit(11);
      vfs.kill_at_write(n);
      for (int i = 0; i < kRequests; ++i) {
        auto r = (*svc)->admissions().admit_blocking(p.principal, AdmissionRequest{"m", kPrompt, 1000, "r"});
        if (!r.admitted()) continue;  // refused: nothing to bill
        for (int64_t t = 1; t <= kProduced; ++t) r.admission.record_progress(t);
        r.admission.finish({storage::UsageStatus::ok, std::nullopt, kProduced, 0, std::nullopt});
        (*svc)->call_ledger([](storage::Database&) { return 0; });
      }
      ::_exit(0);  // n was beyond the writes made: no crash
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    crashed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    ASSERT_TRUE(crashed || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << "child status " << status;
  }

  int64_t count(storage::Sql sql) {
    return svc_->call_ledger([sql](storage::Database& db) -> int64_t {
      auto st = db.prepare(sql);
      EXPECT_TRUE(st.ok() && *st->step());
      return st->column_int(0);
    });
  }

  std::string key;
  bool crashed = false;
};

TEST_F(LedgerKill, RecoveryAfterAKillAtEachWriteBillsWithinTheBound) {
  int crashes = 0;
  int64_t rows_before = 0;
  for (long n = 1; n <= 60; ++n) {
    SCOPED_TRACE(n);
    run_child(n);
    if (HasFatalFailure()) return;
    open();  // recovery
    EXPECT_EQ(count("SELECT count(*) FROM usage WHERE status = 'open'"), 0);
    EXPECT_EQ(count("SELECT coalesce(sum(reserved_tokens), 0) FROM budget_usage"), 0);
    // The rows this child made: settled exactly, or interrupted within the bound.
    const int64_t rows = count("SELECT count(*) FROM usage");
    EXPECT_LE(rows - rows_before, kRequests);
    rows_before = rows;
    EXPECT_EQ(count("SELECT count(*) FROM usage WHERE status = 'ok' AND completion_tokens <> 150"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM usage WHERE status = 'interrupted' AND "
                    "(completion_tokens > 150 OR completion_tokens % 64 <> 0)"),
              0);
    EXPECT_EQ(count("SELECT count(*) FROM usage WHERE status NOT IN ('ok', 'interrupted')"), 0);
    auto integrity = svc_->call_ledger([](storage::Database& db) {
      auto st = db.prepare("PRAGMA integrity_check");
      EXPECT_TRUE(*st->step());
      return st->column_text(0);
    });
    EXPECT_EQ(integrity, "ok");
    EXPECT_TRUE(ledger_check().consistent());
    close();
    if (!crashed) break;  // every write of the run was reached
    ++crashes;
  }
  EXPECT_GT(crashes, 10);
  // Requests killed mid-generation after a checkpoint are billed for it.
  open();
  EXPECT_GT(count("SELECT count(*) FROM usage WHERE status = 'interrupted' AND completion_tokens >= 64"), 0);
}

}  // namespace
}  // namespace llmd::auth
