// The ledger's database failing under a running AuthService (real SQLite
// files): admission fails closed with 503 storage_unavailable and Retry-After
// when the ledger cannot be written (read-only connection, disk full via
// max_page_count), and works again once storage recovers; a settlement that
// cannot be written is kept and written when storage recovers, so a request
// served is billed; an I/O error from the N-th write on (a VFS shim), for each
// N in turn, never lets a request through unbilled; a database damaged on
// disk is refused at start.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/auth/auth_fixture.hpp"
#include "tests/storage/faulty_vfs.hpp"

namespace llmd::auth {
namespace {

class StorageFault : public test::AuthFixture {
 protected:
  void SetUp() override {
    open();
    storage::TeamLimits l;
    l.daily_token_budget = 1'000'000;
    make_team("t", l);
    principal = principal_for(make_key("t").key);
    ASSERT_TRUE(principal);
  }

  // Runs a PRAGMA on the ledger's own connection.
  void on_ledger(storage::Sql sql) {
    Status st = svc_->call_ledger([sql](storage::Database& db) {
      auto s = db.prepare(sql);
      if (!s) return Status(s.take_error());
      auto row = s->step();
      return row ? ok_status() : Status(row.take_error());
    });
    ASSERT_TRUE(st) << st.error().message;
  }

  int64_t scalar(storage::Sql sql, int64_t id = 0) {
    return svc_->call_ledger([sql, id](storage::Database& db) -> int64_t {
      auto st = db.prepare(sql);
      EXPECT_TRUE(st.ok());
      if (id != 0) st->bind(1, id);
      auto row = st->step();
      EXPECT_TRUE(row.ok() && *row);
      return st->column_int(0);
    });
  }

  void expect_storage_denial(const AdmissionResult& r) {
    ASSERT_FALSE(r.admitted());
    ASSERT_TRUE(r.denial);
    EXPECT_EQ(r.denial->http_status, 503);
    EXPECT_EQ(r.denial->code, "storage_unavailable");
    EXPECT_TRUE(r.denial->retry_after_s.has_value());
  }

  std::shared_ptr<const Principal> principal;
};

TEST_F(StorageFault, AdmissionFailsClosedWhileTheLedgerIsReadOnly) {
  on_ledger("PRAGMA query_only = 1");
  auto r = admit(principal, 10, 20);
  expect_storage_denial(r);
  EXPECT_EQ(svc_->admissions().in_flight(principal->team_id), 0);  // nothing held in memory either
  on_ledger("PRAGMA query_only = 0");
  auto ok = admit(principal, 10, 20);
  ASSERT_TRUE(ok.admitted());
  ok.admission.finish({storage::UsageStatus::ok, std::nullopt, 5, 0, std::nullopt});
  drain_ledger();
  EXPECT_TRUE(ledger_check().consistent());
}

TEST_F(StorageFault, AdmissionFailsClosedWhenTheDiskIsFull) {
  on_ledger("PRAGMA max_page_count = 1");  // no growth beyond the current size
  std::optional<AdmissionResult> refused;
  int admitted = 0;
  for (int i = 0; i < 5000 && !refused; ++i) {
    auto r = admit(principal, 1000, 1000);
    if (!r.admitted()) {
      refused = std::move(r);
      break;
    }
    ++admitted;
    r.admission.finish({storage::UsageStatus::ok, std::nullopt, 1, 0, std::nullopt});
  }
  ASSERT_TRUE(refused) << "the ledger never filled up";
  expect_storage_denial(*refused);
  // Every admitted request has its committed row; none was admitted unwritten.
  drain_ledger();
  EXPECT_EQ(scalar("SELECT count(*) FROM usage"), admitted);

  on_ledger("PRAGMA max_page_count = 1000000");
  auto ok = admit(principal, 10, 20);
  ASSERT_TRUE(ok.admitted());
  ok.admission.finish({storage::UsageStatus::ok, std::nullopt, 5, 0, std::nullopt});
  drain_ledger();
  EXPECT_TRUE(ledger_check().consistent());
}

TEST_F(StorageFault, AFailedSettlementIsWrittenWhenStorageRecovers) {
  auto a = admit(principal, 100, 50);
  ASSERT_TRUE(a.admitted());
  const int64_t row = a.admission.usage_id();

  on_ledger("PRAGMA query_only = 1");
  a.admission.finish({storage::UsageStatus::ok, std::nullopt, 40, 0, std::nullopt});
  drain_ledger();
  EXPECT_EQ(svc_->admissions().unsettled(), 1u);
  on_ledger("PRAGMA query_only = 0");
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE id = ?1 AND status = 'open'", row), 1);

  // The next ledger task, here a new admission, writes it first.
  auto b = admit(principal, 10, 10);
  ASSERT_TRUE(b.admitted());
  drain_ledger();
  EXPECT_EQ(svc_->admissions().unsettled(), 0u);
  EXPECT_EQ(scalar("SELECT count(*) FROM usage WHERE id = ?1 AND status = 'ok'", row), 1);
  EXPECT_EQ(scalar("SELECT completion_tokens FROM usage WHERE id = ?1", row), 40);
  b.admission.finish({storage::UsageStatus::ok, std::nullopt, 1, 0, std::nullopt});
  drain_ledger();
  EXPECT_TRUE(ledger_check().consistent());
}

TEST_F(StorageFault, SettlementsKeptAtStopAreWrittenIfTheLedgerWorksAgain) {
  auto a = admit(principal, 100, 50);
  ASSERT_TRUE(a.admitted());
  const int64_t row = a.admission.usage_id();
  on_ledger("PRAGMA query_only = 1");
  a.admission.finish({storage::UsageStatus::ok, std::nullopt, 7, 0, std::nullopt});
  drain_ledger();
  ASSERT_EQ(svc_->admissions().unsettled(), 1u);
  on_ledger("PRAGMA query_only = 0");
  svc_->stop();  // its last ledger task tries them
  EXPECT_EQ(svc_->admissions().unsettled(), 0u);
  close();
  open();
  EXPECT_EQ(svc_->recovery().rows_closed, 0);  // nothing left for recovery
  EXPECT_EQ(scalar("SELECT completion_tokens FROM usage WHERE id = ?1", row), 7);
}

TEST_F(StorageFault, ADamagedDatabaseIsRefusedAtStart) {
  const std::string path = svc_->database_path();
  // Enough rows for several pages beyond the schema.
  for (int i = 0; i < 300; ++i) {
    auto r = admit(principal, 1, 1);
    ASSERT_TRUE(r.admitted());
    r.admission.finish({storage::UsageStatus::ok, std::nullopt, 1, 0, std::nullopt});
  }
  drain_ledger();
  const int64_t page_size = scalar("PRAGMA page_size");
  const int64_t pages = scalar("PRAGMA page_count");
  ASSERT_GT(pages, 8);
  close();  // checkpoints the WAL into the file
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.seekp(page_size * (pages / 2));
    std::string junk(static_cast<std::size_t>(page_size * 2), '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  AuthServiceOptions o;
  o.state_dir = dir_.file("state");
  auto svc = AuthService::open(o, clock_);
  ASSERT_FALSE(svc.ok());
  EXPECT_EQ(svc.error().code, ErrorCode::storage_corrupt);
  EXPECT_NE(svc.error().message.find(path), std::string::npos) << svc.error().message;
  EXPECT_NE(svc.error().message.find("restore it from a backup"), std::string::npos) << svc.error().message;
}

class LedgerIoFault : public test::AuthFixture {
 protected:
  void TearDown() override { close(); }  // before the shim goes
  test::FaultyVfs vfs;  // installed before SetUp() opens the service's connections
};

TEST_F(LedgerIoFault, AnIoErrorAtAnyWriteNeverLetsARequestThroughUnbilled) {
  storage::TeamLimits l;
  l.daily_token_budget = 1'000'000;
  make_team("t", l);
  auto p = principal_for(make_key("t").key);
  ASSERT_TRUE(p);
  std::vector<int64_t> admitted_rows;
  int refused = 0;
  for (long n = 1; n <= 16; ++n) {
    SCOPED_TRACE(n);
    vfs.fail_writes_from(n);
    for (int i = 0; i < 3; ++i) {
      auto r = admit(p, 10, 20);
      if (r.admitted()) {
        admitted_rows.push_back(r.admission.usage_id());
        r.admission.finish({storage::UsageStatus::ok, std::nullopt, 5, 0, std::nullopt});
      } else {
        ++refused;
        ASSERT_TRUE(r.denial);
        EXPECT_EQ(r.denial->http_status, 503);
        EXPECT_EQ(r.denial->code, "storage_unavailable");
      }
    }
    drain_ledger();
    vfs.heal();
  }
  EXPECT_GT(vfs.failed(), 0);
  EXPECT_GT(refused, 0);
  EXPECT_FALSE(admitted_rows.empty());

  // Storage works again: the next ledger task writes what was kept.
  auto last = admit(p, 1, 1);
  ASSERT_TRUE(last.admitted());
  last.admission.finish({storage::UsageStatus::ok, std::nullopt, 1, 0, std::nullopt});
  drain_ledger();
  EXPECT_EQ(svc_->admissions().unsettled(), 0u);
  for (int64_t row : admitted_rows) {
    const int64_t settled = svc_->call_ledger([row](storage::Database& db) -> int64_t {
      auto st = db.prepare("SELECT count(*) FROM usage WHERE id = ?1 AND status = 'ok' AND completion_tokens = 5");
      EXPECT_TRUE(st.ok());
      st->bind(1, row);
      EXPECT_TRUE(*st->step());
      return st->column_int(0);
    });
    EXPECT_EQ(settled, 1) << "usage row " << row;
  }
  auto integrity = svc_->call_ledger([](storage::Database& db) {
    auto st = db.prepare("PRAGMA integrity_check");
    EXPECT_TRUE(*st->step());
    return st->column_text(0);
  });
  EXPECT_EQ(integrity, "ok");
  EXPECT_TRUE(ledger_check().consistent());
}

}  // namespace
}  // namespace llmd::auth
