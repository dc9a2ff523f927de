// Schema migrations tracked in user_version.
#include <gtest/gtest.h>

#include <set>

#include "storage/migrations.hpp"
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
                           "model_aliases"}) {
    EXPECT_TRUE(t.count(name)) << name;
  }
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
