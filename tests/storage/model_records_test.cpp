// Models added over the admin API (schema v2): the v1 -> v2 migration, every
// field's round trip, replacing, removing and the list order.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "storage/migrations.hpp"
#include "storage/model_records.hpp"
#include "storage/schema_v1.hpp"
#include "storage/team_store.hpp"
#include "storage/transaction.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

ModelRecord full_record(const std::string& id) {
  ModelRecord r;
  r.id = id;
  r.path = "/srv/models/" + id + ".gguf";
  r.aliases = {id + "-b", id + "-a", "x:" + id};
  r.device = "cuda:1";
  r.pinned = true;
  r.keep_alive_s = 4294967295;  // the largest uint32
  r.context_length = 32768;
  r.max_sequences = 8;
  r.max_choices = 2;
  r.max_waiting = 100;
  r.kv_cache_bytes = std::numeric_limits<int64_t>::max();
  r.chat_template_name = "chatml";
  r.chat_template = "/etc/llmd/templates/it's \"quoted\".jinja";
  r.threads = 12;
  r.load = false;
  return r;
}

class ModelRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = open_database(dir_.file("l.db"));
    ASSERT_TRUE(d.ok()) << d.error().message;
    db_ = std::move(*d);
  }
  std::vector<ModelRecord> list() {
    auto l = list_model_records(*db_);
    EXPECT_TRUE(l.ok()) << l.error().message;
    return l.ok() ? *l : std::vector<ModelRecord>{};
  }
  std::vector<std::string> ids() {
    std::vector<std::string> out;
    for (const auto& r : list()) out.push_back(r.id);
    return out;
  }
  int64_t count(Sql sql) {
    auto st = db_->prepare(sql);
    EXPECT_TRUE(st.ok());
    auto row = st->step();
    EXPECT_TRUE(row.ok() && *row);
    return st->column_int(0);
  }
  test::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST(ModelRecordsMigration, AVersion1DatabaseMovesToTheLatestKeepingItsData) {
  test::TempDir dir;
  {
    // A database as a build with schema 1 left it, with a team in it.
    auto db = Database::open(dir.file("l.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->run_script(kSchemaV1).ok());
    ASSERT_EQ(*schema_version(**db), 1);
    ASSERT_TRUE(create_team(**db, "research", {}, 1000).ok());
  }
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_EQ(*schema_version(**db), latest_schema_version());
  auto team = find_team(**db, "research");
  ASSERT_TRUE(team.ok() && *team);
  EXPECT_EQ((*team)->created_at, 1000);
  auto empty = list_model_records(**db);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(save_model_record(**db, full_record("m"), 5).ok());
  // And the migrated database reopens as a no-op.
  db->reset();
  auto again = open_database(dir.file("l.db"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(list_model_records(**again)->size(), 1u);
  auto check = (*again)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(*check->step());
  EXPECT_EQ(check->column_text(0), "ok");
}

TEST_F(ModelRecords, EveryFieldRoundTrips) {
  ModelRecord in = full_record("llama-3-8b");
  ASSERT_TRUE(save_model_record(*db_, in, 1700000000123).ok());
  auto out = list();
  ASSERT_EQ(out.size(), 1u);
  const ModelRecord& r = out[0];
  EXPECT_EQ(r.id, in.id);
  EXPECT_EQ(r.path, in.path);
  EXPECT_EQ(r.aliases, in.aliases);  // in the order given, not sorted
  EXPECT_EQ(r.device, in.device);
  EXPECT_EQ(r.pinned, in.pinned);
  EXPECT_EQ(r.keep_alive_s, in.keep_alive_s);
  EXPECT_EQ(r.context_length, in.context_length);
  EXPECT_EQ(r.max_sequences, in.max_sequences);
  EXPECT_EQ(r.max_choices, in.max_choices);
  EXPECT_EQ(r.max_waiting, in.max_waiting);
  EXPECT_EQ(r.kv_cache_bytes, in.kv_cache_bytes);
  EXPECT_EQ(r.chat_template_name, in.chat_template_name);
  EXPECT_EQ(r.chat_template, in.chat_template);
  EXPECT_EQ(r.threads, in.threads);
  EXPECT_EQ(r.load, in.load);
  EXPECT_EQ(r.created_at, 1700000000123);
  EXPECT_EQ(r.updated_at, 1700000000123);
}

TEST_F(ModelRecords, DefaultsAndEmptyFieldsRoundTrip) {
  ModelRecord in;
  in.id = "tiny";
  in.path = "/m/tiny.gguf";
  ASSERT_TRUE(save_model_record(*db_, in, 1).ok());
  auto out = list();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].aliases.empty());
  EXPECT_EQ(out[0].device, "auto");
  EXPECT_FALSE(out[0].pinned);
  EXPECT_TRUE(out[0].load);
  EXPECT_EQ(out[0].chat_template, "");
  EXPECT_EQ(out[0].kv_cache_bytes, 0);
}

TEST_F(ModelRecords, SavingAgainReplacesEveryFieldButKeepsCreationAndOrder) {
  ASSERT_TRUE(save_model_record(*db_, full_record("a"), 10).ok());
  ASSERT_TRUE(save_model_record(*db_, full_record("b"), 20).ok());
  ASSERT_TRUE(save_model_record(*db_, full_record("c"), 30).ok());
  ModelRecord changed;
  changed.id = "a";
  changed.path = "/other/a.gguf";
  changed.aliases = {"only"};
  changed.device = "cpu:1";
  changed.load = true;
  changed.max_sequences = 3;
  ASSERT_TRUE(save_model_record(*db_, changed, 40).ok());
  auto out = list();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].id, "a");  // still first: the order is that of the first save
  EXPECT_EQ(out[0].path, "/other/a.gguf");
  EXPECT_EQ(out[0].aliases, std::vector<std::string>{"only"});
  EXPECT_EQ(out[0].device, "cpu:1");
  EXPECT_FALSE(out[0].pinned);
  EXPECT_EQ(out[0].keep_alive_s, 0);
  EXPECT_EQ(out[0].kv_cache_bytes, 0);
  EXPECT_EQ(out[0].chat_template_name, "");
  EXPECT_EQ(out[0].max_sequences, 3);
  EXPECT_TRUE(out[0].load);
  EXPECT_EQ(out[0].created_at, 10);
  EXPECT_EQ(out[0].updated_at, 40);
  EXPECT_EQ(out[1].aliases, full_record("b").aliases);  // other models' aliases untouched
  EXPECT_EQ(count("SELECT count(*) FROM model_aliases"), 7);
}

TEST_F(ModelRecords, ListIsInInsertionOrderNotByName) {
  for (const char* id : {"zeta", "alpha", "mid", "beta"}) ASSERT_TRUE(save_model_record(*db_, full_record(id), 1).ok());
  EXPECT_EQ(ids(), (std::vector<std::string>{"zeta", "alpha", "mid", "beta"}));
  ASSERT_TRUE(remove_model_record(*db_, "beta").ok());
  ASSERT_TRUE(save_model_record(*db_, full_record("again"), 2).ok());
  ASSERT_TRUE(remove_model_record(*db_, "alpha").ok());
  ASSERT_TRUE(save_model_record(*db_, full_record("alpha"), 3).ok());  // back, now last
  EXPECT_EQ(ids(), (std::vector<std::string>{"zeta", "mid", "again", "alpha"}));
}

TEST_F(ModelRecords, RemoveForgetsTheModelAndItsAliases) {
  ASSERT_TRUE(save_model_record(*db_, full_record("a"), 1).ok());
  ASSERT_TRUE(save_model_record(*db_, full_record("b"), 1).ok());
  ASSERT_TRUE(remove_model_record(*db_, "a").ok());
  EXPECT_EQ(ids(), std::vector<std::string>{"b"});
  EXPECT_EQ(count("SELECT count(*) FROM model_aliases WHERE model_id = 'a'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM model_aliases"), 3);
}

TEST_F(ModelRecords, RemovingAnUnknownIdIsNotAnError) {
  EXPECT_TRUE(remove_model_record(*db_, "never-added").ok());
  ASSERT_TRUE(save_model_record(*db_, full_record("a"), 1).ok());
  EXPECT_TRUE(remove_model_record(*db_, "a").ok());
  EXPECT_TRUE(remove_model_record(*db_, "a").ok());
  EXPECT_TRUE(list().empty());
}

TEST_F(ModelRecords, HostileTextIsStoredVerbatim) {
  ModelRecord r = full_record("x");
  r.id = "x'); DROP TABLE models; --";
  r.path = "/m/'\"; DELETE FROM models;";
  r.aliases = {"'", "\"", "a'b"};
  r.device = "cuda:0' OR '1'='1";
  ASSERT_TRUE(save_model_record(*db_, r, 1).ok());
  auto out = list();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, r.id);
  EXPECT_EQ(out[0].path, r.path);
  EXPECT_EQ(out[0].aliases, r.aliases);
  EXPECT_EQ(out[0].device, r.device);
  EXPECT_TRUE(remove_model_record(*db_, r.id).ok());
  EXPECT_TRUE(list().empty());
}

TEST_F(ModelRecords, OutOfRangeValuesAreRefusedAndLeaveTheOldRow) {
  ASSERT_TRUE(save_model_record(*db_, full_record("a"), 1).ok());
  const auto bad = [](auto set) {
    ModelRecord r = full_record("a");
    r.path = "/changed.gguf";
    r.aliases = {"changed"};
    set(r);
    return r;
  };
  const ModelRecord cases[] = {
      bad([](ModelRecord& r) { r.keep_alive_s = -1; }),
      bad([](ModelRecord& r) { r.context_length = int64_t{1} << 32; }),
      bad([](ModelRecord& r) { r.max_sequences = -5; }),
      bad([](ModelRecord& r) { r.kv_cache_bytes = -1; }),
      bad([](ModelRecord& r) { r.threads = -1; }),
      bad([](ModelRecord& r) { r.id = ""; }),
  };
  for (const ModelRecord& r : cases) {
    auto tx = Transaction::begin(*db_);
    ASSERT_TRUE(tx.ok());
    auto saved = save_model_record(*db_, r, 2);
    ASSERT_FALSE(saved.ok());
    EXPECT_EQ(saved.error().code, ErrorCode::storage_constraint) << saved.error().message;
  }
  auto out = list();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, full_record("a").path);
  EXPECT_EQ(out[0].aliases, full_record("a").aliases);
}

TEST_F(ModelRecords, RecordsSurviveReopeningTheFile) {
  ASSERT_TRUE(save_model_record(*db_, full_record("kept"), 7).ok());
  db_.reset();
  auto db = open_database(dir_.file("l.db"));
  ASSERT_TRUE(db.ok());
  auto out = list_model_records(**db);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].aliases, full_record("kept").aliases);
}

}  // namespace
}  // namespace llmd::storage
