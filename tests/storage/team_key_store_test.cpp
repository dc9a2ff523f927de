// Teams, API key records and the audit log.
#include <gtest/gtest.h>

#include "storage/audit_log.hpp"
#include "storage/key_store.hpp"
#include "storage/migrations.hpp"
#include "storage/schema_v1.hpp"
#include "storage/schema_v2.hpp"
#include "storage/team_store.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

class Stores : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = open_database(dir_.file("l.db"));
    ASSERT_TRUE(d.ok()) << d.error().message;
    db_ = std::move(*d);
  }
  NewKey key(int64_t team_id, const std::string& key_id, const std::string& role = "user") {
    NewKey k;
    k.key_id = key_id;
    k.team_id = team_id;
    k.name = "k-" + key_id;
    k.role = role;
    k.secret_sha256.fill(0x42);
    return k;
  }
  test::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(Stores, TeamRoundTripWithLimitsAndModels) {
  TeamLimits l;
  l.weight = 2.5;
  l.rpm_limit = 60;
  l.tpm_limit = 10000;
  l.daily_token_budget = 0;
  l.monthly_token_budget = 1000000;
  l.max_concurrent = 4;
  l.allowed_models = {"llama", "qwen"};
  auto t = create_team(*db_, "research", l, 1000);
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto found = find_team(*db_, "research");
  ASSERT_TRUE(found.ok() && *found);
  const TeamRecord& r = **found;
  EXPECT_EQ(r.id, t->id);
  EXPECT_DOUBLE_EQ(r.limits.weight, 2.5);
  EXPECT_EQ(r.limits.rpm_limit, 60);
  EXPECT_EQ(r.limits.tpm_limit, 10000);
  EXPECT_EQ(r.limits.daily_token_budget, 0);
  EXPECT_EQ(r.limits.monthly_token_budget, 1000000);
  EXPECT_EQ(r.limits.max_concurrent, 4);
  EXPECT_EQ(r.limits.allowed_models, (std::vector<std::string>{"llama", "qwen"}));
  EXPECT_EQ(r.created_at, 1000);
}

TEST_F(Stores, TeamNamesAreValidatedAndUnique) {
  for (const char* bad : {"", "has space", "quote'", "semi;colon", "x' OR '1'='1",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    auto t = create_team(*db_, bad, {}, 1);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().code, ErrorCode::team_invalid);
  }
  ASSERT_TRUE(create_team(*db_, "ops", {}, 1).ok());
  auto dup = create_team(*db_, "ops", {}, 2);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::team_exists);
}

TEST_F(Stores, TeamLimitsAreValidated) {
  TeamLimits l;
  l.weight = 0;
  EXPECT_EQ(create_team(*db_, "a", l, 1).error().code, ErrorCode::team_invalid);
  l.weight = 1;
  l.rpm_limit = 0;
  EXPECT_EQ(create_team(*db_, "a", l, 1).error().code, ErrorCode::team_invalid);
  l.rpm_limit.reset();
  l.daily_token_budget = -1;
  EXPECT_EQ(create_team(*db_, "a", l, 1).error().code, ErrorCode::team_invalid);
}

TEST_F(Stores, UpdateAndSoftDelete) {
  auto t = create_team(*db_, "ops", {}, 1);
  ASSERT_TRUE(t.ok());
  TeamLimits l;
  l.weight = 3;
  l.allowed_models = {"m"};
  ASSERT_TRUE(update_team(*db_, t->id, l, 5).ok());
  auto found = find_team(*db_, "ops");
  EXPECT_DOUBLE_EQ((*found)->limits.weight, 3);
  EXPECT_EQ((*found)->limits.allowed_models, std::vector<std::string>{"m"});

  ASSERT_TRUE(insert_key(*db_, key(t->id, "AAAAAAAAAAAAAAAA"), 5).ok());
  ASSERT_TRUE(delete_team(*db_, t->id, 9).ok());
  EXPECT_FALSE(*find_team(*db_, "ops"));
  EXPECT_EQ(delete_team(*db_, t->id, 10).error().code, ErrorCode::team_not_found);
  auto k = find_key(*db_, "AAAAAAAAAAAAAAAA");
  ASSERT_TRUE(k.ok() && *k);
  EXPECT_EQ((*k)->revoked_at, 9);  // deleting a team revokes its keys
  // The name is free again; the old team's rows stay for history.
  EXPECT_TRUE(create_team(*db_, "ops", {}, 11).ok());
  EXPECT_EQ(list_teams(*db_)->size(), 1u);
}

TEST_F(Stores, KeyLifecycle) {
  auto t = create_team(*db_, "ops", {}, 1);
  ASSERT_TRUE(t.ok());
  NewKey nk = key(t->id, "KEY0000000000001", "admin");
  nk.expires_at = 5000;
  nk.rpm_limit = 10;
  auto k = insert_key(*db_, nk, 100);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->team_name, "ops");

  auto cred = load_key_credentials(*db_, "KEY0000000000001");
  ASSERT_TRUE(cred.ok() && *cred);
  EXPECT_EQ((*cred)->key.role, "admin");
  EXPECT_EQ((*cred)->key.expires_at, 5000);
  EXPECT_EQ((*cred)->key.rpm_limit, 10);
  EXPECT_EQ((*cred)->secret_sha256, nk.secret_sha256);
  EXPECT_EQ((*cred)->team.name, "ops");
  EXPECT_FALSE((*cred)->team_deleted);

  EXPECT_EQ(*count_active_admin_keys(*db_, 4000), 1);
  EXPECT_EQ(*count_active_admin_keys(*db_, 5000), 0);  // expired

  ASSERT_TRUE(touch_key(*db_, k->id, 200).ok());
  EXPECT_EQ((*find_key(*db_, "KEY0000000000001"))->last_used_at, 200);

  ASSERT_TRUE(revoke_key(*db_, "KEY0000000000001", 300).ok());
  EXPECT_EQ(revoke_key(*db_, "KEY0000000000001", 301).error().code, ErrorCode::key_not_found);
  EXPECT_EQ((*find_key(*db_, "KEY0000000000001"))->revoked_at, 300);
  EXPECT_EQ(list_keys(*db_, t->id, false)->size(), 0u);
  EXPECT_EQ(list_keys(*db_, t->id, true)->size(), 1u);
}

TEST_F(Stores, AKeysPriorityRoundTripsAndIsChecked) {
  auto t = create_team(*db_, "nightly", {}, 1);
  ASSERT_TRUE(t.ok());
  NewKey nk = key(t->id, "KEY000000000000B");
  nk.priority = "batch";
  ASSERT_TRUE(insert_key(*db_, nk, 1).ok());
  EXPECT_EQ((*load_key_credentials(*db_, "KEY000000000000B"))->key.priority, "batch");
  ASSERT_TRUE(insert_key(*db_, key(t->id, "KEY000000000000I"), 1).ok());
  EXPECT_EQ((*find_key(*db_, "KEY000000000000I"))->priority, "interactive");
  nk = key(t->id, "KEY000000000000X");
  nk.priority = "urgent";
  EXPECT_EQ(insert_key(*db_, nk, 1).error().code, ErrorCode::key_invalid);
}

TEST(KeyPriorityMigration, KeysOfAVersion2DatabaseBecomeInteractive) {
  test::TempDir dir;
  {
    auto db = Database::open(dir.file("l.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->run_script(kSchemaV1).ok());
    ASSERT_TRUE((*db)->run_script(kSchemaV2).ok());
    auto t = create_team(**db, "old", {}, 1);
    ASSERT_TRUE(t.ok());
    // The row as a version-2 build wrote it (no priority column yet).
    auto st = (*db)->prepare(
        "INSERT INTO api_keys (key_id, team_id, name, role, secret_sha256, created_at)"
        " VALUES ('KEY00000000000V2', ?1, 'old key', 'user', zeroblob(32), 1)");
    ASSERT_TRUE(st.ok());
    st->bind(1, t->id);
    ASSERT_TRUE(st->run().ok());
  }
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(*schema_version(**db), latest_schema_version());
  auto k = find_key(**db, "KEY00000000000V2");
  ASSERT_TRUE(k.ok() && *k);
  EXPECT_EQ((*k)->priority, "interactive");
  EXPECT_EQ((*k)->name, "old key");
}

TEST_F(Stores, KeyValidationAndCollisions) {
  auto t = create_team(*db_, "ops", {}, 1);
  NewKey bad = key(t->id, "KEY0000000000002");
  bad.role = "root";
  EXPECT_EQ(insert_key(*db_, bad, 1).error().code, ErrorCode::key_invalid);
  bad = key(t->id, "KEY0000000000002");
  bad.name = "";
  EXPECT_EQ(insert_key(*db_, bad, 1).error().code, ErrorCode::key_invalid);
  EXPECT_EQ(insert_key(*db_, key(999, "KEY0000000000002"), 1).error().code, ErrorCode::team_not_found);
  ASSERT_TRUE(insert_key(*db_, key(t->id, "KEY0000000000002"), 1).ok());
  EXPECT_EQ(insert_key(*db_, key(t->id, "KEY0000000000002"), 1).error().code, ErrorCode::key_exists);
}

TEST_F(Stores, LookupsWithHostileIdsFindNothingAndRaiseNoError) {
  auto t = create_team(*db_, "ops", {}, 1);
  ASSERT_TRUE(insert_key(*db_, key(t->id, "KEY0000000000003"), 1).ok());
  for (const char* id : {"' OR '1'='1", "KEY0000000000003' --", "%", "*", "\"", ";DROP TABLE api_keys;"}) {
    auto c = load_key_credentials(*db_, id);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_FALSE(*c) << id;
    EXPECT_FALSE(*find_team(*db_, id));
  }
  EXPECT_EQ(list_keys(*db_, std::nullopt, true)->size(), 1u);
}

TEST_F(Stores, AuditLogNewestFirstWithPaging) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(append_audit(*db_, AuditEntry{0, i * 10, "key:x", "team.create", "t" + std::to_string(i), ""}).ok());
  }
  auto all = list_audit(*db_, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].target, "t5");
  AuditQuery q;
  q.limit = 2;
  q.before_id = (*all)[1].id;
  auto page = list_audit(*db_, q);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].target, "t3");
  q = {};
  q.since_ms = 40;
  EXPECT_EQ(list_audit(*db_, q)->size(), 2u);
}

}  // namespace
}  // namespace llmd::storage
