// The SQLite wrapper: configuration, prepared statements, bindings, transactions.
#include <gtest/gtest.h>

#include "storage/database.hpp"
#include "storage/transaction.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

std::unique_ptr<Database> open_or_die(const std::string& path) {
  auto db = Database::open(path);
  EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
  return db.ok() ? std::move(*db) : nullptr;
}

int64_t scalar(Database& db, Sql sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.ok());
  auto row = st->step();
  EXPECT_TRUE(row.ok() && *row);
  return st->column_int(0);
}

TEST(Database, ConfiguresWalForeignKeysAndBusyTimeout) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db);
  auto st = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "wal");
  EXPECT_EQ(scalar(*db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(scalar(*db, "PRAGMA busy_timeout"), 5000);
  EXPECT_EQ(scalar(*db, "PRAGMA synchronous"), 1);  // NORMAL
}

TEST(Database, SynchronousFullOnRequest) {
  test::TempDir dir;
  DatabaseOptions o;
  o.synchronous = Synchronous::full;
  auto db = Database::open(dir.file("a.db"), o);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(scalar(**db, "PRAGMA synchronous"), 2);
}

TEST(Database, OpenFailsWithClearErrorForMissingDirectory) {
  test::TempDir dir;
  auto db = Database::open(dir.file("missing/sub/a.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::storage_error);
  EXPECT_NE(db.error().message.find("cannot open database"), std::string::npos);
}

TEST(Database, BoundValuesAreStoredVerbatimNeverInterpreted) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db->run_script("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB);").ok());
  const std::string nasty[] = {"' OR '1'='1", "x'); DROP TABLE t; --", "\"; PRAGMA writable_schema=1; --",
                               std::string("nul\0inside", 10), "\xff\xfe invalid utf8"};
  for (const auto& s : nasty) {
    auto ins = db->prepare("INSERT INTO t (s) VALUES (?1)");
    ASSERT_TRUE(ins.ok());
    ASSERT_TRUE(ins->bind(1, s).run().ok());
  }
  EXPECT_EQ(scalar(*db, "SELECT count(*) FROM t"), 5);
  for (const auto& s : nasty) {
    auto sel = db->prepare("SELECT count(*) FROM t WHERE s = ?1");
    ASSERT_TRUE(sel.ok());
    sel->bind(1, s);
    ASSERT_TRUE(*sel->step());
    EXPECT_EQ(sel->column_int(0), 1) << s;
  }
}

TEST(Database, StatementsAreCachedAndResetBetweenUses) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db->run_script("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);").ok());
  for (int round = 0; round < 3; ++round) {
    auto st = db->prepare("SELECT v FROM t WHERE v >= ?1 ORDER BY v");
    ASSERT_TRUE(st.ok());
    st->bind(1, int64_t{2});
    ASSERT_TRUE(*st->step());  // leave it mid-way: the next borrow must start over
    EXPECT_EQ(st->column_int(0), 2);
  }
}

TEST(Database, SameStatementBorrowedTwiceGetsAPrivateCopy) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db->run_script("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2);").ok());
  auto a = db->prepare("SELECT v FROM t ORDER BY v");
  auto b = db->prepare("SELECT v FROM t ORDER BY v");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(*a->step());
  ASSERT_TRUE(*b->step());
  ASSERT_TRUE(*a->step());
  EXPECT_EQ(a->column_int(0), 2);
  EXPECT_EQ(b->column_int(0), 1);
}

TEST(Database, ConstraintViolationsHaveTheirOwnCode) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db->run_script("CREATE TABLE t (v INTEGER UNIQUE);").ok());
  auto ins = [&] {
    auto st = db->prepare("INSERT INTO t VALUES (?1)");
    return st->bind(1, int64_t{7}).run();
  };
  ASSERT_TRUE(ins().ok());
  auto r = ins();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::storage_constraint);
}

TEST(Database, ScriptErrorsAreReported) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  auto r = db->run_script("CREATE TABLE t (v INTEGER); CREATE TABLE t (v INTEGER);");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("already exists"), std::string::npos);
}

TEST(Transaction, RollsBackUnlessCommitted) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db->run_script("CREATE TABLE t (v INTEGER);").ok());
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db->prepare("INSERT INTO t VALUES (1)")->run().ok());
  }
  EXPECT_EQ(scalar(*db, "SELECT count(*) FROM t"), 0);
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(db->prepare("INSERT INTO t VALUES (1)")->run().ok());
    ASSERT_TRUE(tx->commit().ok());
  }
  EXPECT_EQ(scalar(*db, "SELECT count(*) FROM t"), 1);
}

TEST(Transaction, ImmediateHoldsTheWriteLockAgainstOtherConnections) {
  test::TempDir dir;
  auto a = open_or_die(dir.file("a.db"));
  DatabaseOptions quick;
  quick.busy_timeout = std::chrono::milliseconds(50);
  auto b = Database::open(dir.file("a.db"), quick);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(a->run_script("CREATE TABLE t (v INTEGER);").ok());
  auto tx = Transaction::begin(*a, Transaction::Mode::immediate);
  ASSERT_TRUE(tx.ok());
  auto other = Transaction::begin(**b, Transaction::Mode::immediate);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::storage_busy);
  // Readers are not blocked in WAL mode.
  EXPECT_EQ(scalar(**b, "SELECT count(*) FROM t"), 0);
}

}  // namespace
}  // namespace llmd::storage
