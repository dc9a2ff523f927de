// Schema migrations tracked in user_version.
#include <gtest/gtest.h>

#include <set>

#include "storage/migrations.hpp"
#include "storage/schema_v1.hpp"
#include "storage/schema_v2.hpp"
#include "storage/schema_v3.hpp"
#include "storage/usage_ledger.hpp"
#include "storage/usage_report.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

std::set<std::string> tables(Database& db) {
  std::set<std::string> out;
  auto st = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'");
  while (*st->step()) out.insert(st->column_text(0));
  return out;
}

TEST(Migrations, FreshDatabaseGetsTheLatestSchema) {
  test::TempDir dir;
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(*schema_version(**db), latest_schema_version());
  auto t = tables(**db);
  for (const char* name : {"teams", "team_models", "api_keys", "usage", "budget_usage", "audit_log", "models",
                           "model_aliases", "usage_daily"}) {
    EXPECT_TRUE(t.count(name)) << name;
  }
}

// Schema 4 adds the usage report's rollup: a ledger written by schema 3 is
// summed into it, and the report and the consistency check agree with it.
TEST(Migrations, AVersion3LedgerIsRolledUpForTheReport) {
  test::TempDir dir;
  {
    auto db = Database::open(dir.file("l.db"));
    ASSERT_TRUE(db.ok());
    for (Sql script : {kSchemaV1, kSchemaV2, kSchemaV3}) ASSERT_TRUE((*db)->run_script(script).ok());
    ASSERT_EQ(*schema_version(**db), 3);
    ASSERT_TRUE((*db)->run_script(R"sql(
      INSERT INTO teams (id, name, created_at, updated_at) VALUES (1, 'ops', 0, 0);
      INSERT INTO api_keys (id, key_id, team_id, name, role, secret_sha256, created_at)
        VALUES (1, 'KEY0000000000001', 1, 'ci', 'user', zeroblob(32), 0);
      INSERT INTO usage (api_key_id, team_id, model, day, admitted_at, finished_at, status, prompt_tokens,
                         completion_tokens, queue_wait_ms, reserved_tokens, charged_tokens)
        VALUES (1, 1, 'a', '2024-01-10', 0, 1, 'ok', 10, 5, 3, 100, 15),
               (1, 1, 'a', '2024-01-10', 0, 1, 'error', 7, 0, NULL, 100, 7),
               (1, 1, 'b', '2024-01-11', 0, NULL, 'open', 4, 0, NULL, 50, 0);
      INSERT INTO budget_usage (team_id, period, reserved_tokens, used_tokens)
        VALUES (1, '2024-01-10', 0, 22), (1, '2024-01-11', 50, 0), (1, '2024-01', 50, 22);
    )sql").ok());
  }
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(*schema_version(**db), latest_schema_version());
  auto check = check_ledger(**db);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->consistent()) << check->problems[0];
  auto report = summarize_usage(**db, {});
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->size(), 2u);
  EXPECT_EQ((*report)[0].model, "a");
  EXPECT_EQ((*report)[0].requests, 2);
  EXPECT_EQ((*report)[0].ok, 1);
  EXPECT_EQ((*report)[0].errors, 1);
  EXPECT_EQ((*report)[0].prompt_tokens, 17);
  EXPECT_EQ((*report)[0].charged_tokens, 22);
  EXPECT_EQ((*report)[0].queue_wait_ms_total, 3);
  EXPECT_EQ((*report)[1].open, 1);
}

TEST(Migrations, ReopeningIsANoOpAndKeepsData) {
  test::TempDir dir;
  {
    auto db = open_database(dir.file("l.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->prepare("INSERT INTO audit_log (at, actor, action, target) VALUES (1, 'a', 'b', 'c')")
                    ->run()
                    .ok());
  }
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok());
  auto st = (*db)->prepare("SELECT count(*) FROM audit_log");
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int(0), 1);
}

TEST(Migrations, NewerSchemaIsRefusedUntouched) {
  test::TempDir dir;
  {
    auto db = Database::open(dir.file("l.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->run_script("CREATE TABLE future (x); PRAGMA user_version = 99;").ok());
  }
  auto db = open_database(dir.file("l.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::storage_schema_too_new);
  auto raw = Database::open(dir.file("l.db"));
  EXPECT_EQ(*schema_version(**raw), 99);
  EXPECT_EQ(tables(**raw), std::set<std::string>{"future"});
}

TEST(Migrations, AFailedMigrationLeavesThePreviousVersionIntact) {
  test::TempDir dir;
  {
    // A stray table with a conflicting name makes migration 1 fail half-way.
    auto db = Database::open(dir.file("l.db"));
    ASSERT_TRUE((*db)->run_script("CREATE TABLE usage (x);").ok());
  }
  auto db = open_database(dir.file("l.db"));
  ASSERT_FALSE(db.ok());
  auto raw = Database::open(dir.file("l.db"));
  EXPECT_EQ(*schema_version(**raw), 0);
  EXPECT_EQ(tables(**raw), std::set<std::string>{"usage"});  // teams etc. were rolled back
}

TEST(Migrations, IntegrityCheckPassesOnAFreshLedger) {
  test::TempDir dir;
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok());
  auto st = (*db)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "ok");
}

}  // namespace
}  // namespace llmd::storage
