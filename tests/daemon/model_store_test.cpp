// SqliteModelStore: ModelSpec <-> `models` rows through a real SQLite file,
// from several threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <set>
#include <thread>

#include "daemon/models/sqlite_model_store.hpp"
#include "storage/migrations.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::daemon {
namespace {

models::ModelSpec full_spec(const std::string& id) {
  models::ModelSpec s;
  s.id = id;
  s.path = "/srv/models/" + id + ".gguf";
  s.aliases = {id + "-chat", "team/" + id};
  s.device = "cuda:0";
  s.pinned = true;
  s.keep_alive_s = 600;
  s.context_length = 4096;
  s.max_sequences = 32;
  s.max_choices = 8;
  s.max_waiting = 1000;
  s.kv_cache_bytes = uint64_t{6} << 30;
  s.chat_template_name = "llama3";
  s.chat_template = "/etc/llmd/t.jinja";
  s.threads = 24;
  s.source = models::ModelSource::api;
  s.load = false;
  return s;
}

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    store_.reset();
    db_.reset();
    auto d = storage::open_database(dir_.file("l.db"));
    ASSERT_TRUE(d.ok()) << d.error().message;
    db_ = std::move(*d);
    store_ = std::make_unique<SqliteModelStore>(*db_, clock_);
  }
  std::vector<models::ModelSpec> all() {
    auto l = store_->load_all();
    EXPECT_TRUE(l.ok()) << l.error().message;
    return l.ok() ? *l : std::vector<models::ModelSpec>{};
  }
  test::TempDir dir_;
  auth::ManualClock clock_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<SqliteModelStore> store_;
};

TEST_F(ModelStoreTest, EverySpecFieldRoundTripsThroughTheFile) {
  const models::ModelSpec in = full_spec("llama");
  ASSERT_TRUE(store_->save(in).ok());
  open();  // a restart: a new connection on the same file
  auto out = all();
  ASSERT_EQ(out.size(), 1u);
  const models::ModelSpec& s = out[0];
  EXPECT_EQ(s.id, in.id);
  EXPECT_EQ(s.path, in.path);
  EXPECT_EQ(s.aliases, in.aliases);
  EXPECT_EQ(s.device, in.device);
  EXPECT_EQ(s.pinned, in.pinned);
  EXPECT_EQ(s.keep_alive_s, in.keep_alive_s);
  EXPECT_EQ(s.context_length, in.context_length);
  EXPECT_EQ(s.max_sequences, in.max_sequences);
  EXPECT_EQ(s.max_choices, in.max_choices);
  EXPECT_EQ(s.max_waiting, in.max_waiting);
  EXPECT_EQ(s.kv_cache_bytes, in.kv_cache_bytes);
  EXPECT_EQ(s.chat_template_name, in.chat_template_name);
  EXPECT_EQ(s.chat_template, in.chat_template);
  EXPECT_EQ(s.threads, in.threads);
  EXPECT_EQ(s.source, models::ModelSource::api);
  EXPECT_EQ(s.load, in.load);
  EXPECT_FALSE(s.origin.empty());
}

TEST_F(ModelStoreTest, StoredRowsComeBackAsApiModels) {
  models::ModelSpec s = full_spec("m");
  s.source = models::ModelSource::config;
  ASSERT_TRUE(store_->save(s).ok());
  auto out = all();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].source, models::ModelSource::api);
}

TEST_F(ModelStoreTest, LimitsOfEachFieldRoundTrip) {
  models::ModelSpec s = full_spec("edge");
  s.keep_alive_s = std::numeric_limits<uint32_t>::max();
  s.context_length = 0;
  s.max_sequences = std::numeric_limits<uint32_t>::max();
  s.kv_cache_bytes = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  s.aliases.clear();
  s.chat_template.clear();
  ASSERT_TRUE(store_->save(s).ok());
  auto out = all();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].keep_alive_s, s.keep_alive_s);
  EXPECT_EQ(out[0].max_sequences, s.max_sequences);
  EXPECT_EQ(out[0].kv_cache_bytes, s.kv_cache_bytes);
  EXPECT_TRUE(out[0].aliases.empty());
  EXPECT_TRUE(out[0].chat_template.empty());
}

TEST_F(ModelStoreTest, SaveReplacesAndKeepsTheOrderOfAdding) {
  ASSERT_TRUE(store_->save(full_spec("b")).ok());
  ASSERT_TRUE(store_->save(full_spec("a")).ok());
  models::ModelSpec b = full_spec("b");
  b.load = true;
  b.device = "cpu";
  ASSERT_TRUE(store_->save(b).ok());
  auto out = all();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, "b");
  EXPECT_TRUE(out[0].load);
  EXPECT_EQ(out[0].device, "cpu");
  EXPECT_EQ(out[1].id, "a");
}

TEST_F(ModelStoreTest, RemoveForgetsAndUnknownIdsAreNotAnError) {
  ASSERT_TRUE(store_->save(full_spec("a")).ok());
  EXPECT_TRUE(store_->remove("unknown").ok());
  EXPECT_TRUE(store_->remove("a").ok());
  EXPECT_TRUE(store_->remove("a").ok());
  EXPECT_TRUE(all().empty());
}

TEST_F(ModelStoreTest, AnEmptyIdIsRefused) {
  auto r = store_->save(models::ModelSpec{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_argument);
  EXPECT_TRUE(all().empty());
}

TEST_F(ModelStoreTest, TimesComeFromTheClock) {
  ASSERT_TRUE(store_->save(full_spec("a")).ok());
  clock_.advance_ms(5000);
  ASSERT_TRUE(store_->save(full_spec("a")).ok());
  auto rows = storage::list_model_records(*db_);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].created_at, 1'700'000'000'000);
  EXPECT_EQ((*rows)[0].updated_at, 1'700'000'005'000);
}

TEST(ModelStoreConversion, ASplitPlacementRoundTrips) {
  models::ModelSpec spec;
  spec.id = "split";
  spec.path = "/m/split.gguf";
  spec.devices = {"cpu:0", "cpu:1"};
  spec.layer_split = {3, 2};
  auto back = to_spec(to_record(spec));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->devices, spec.devices);
  EXPECT_EQ(back->layer_split, spec.layer_split);
  spec.layer_split.clear();
  back = to_spec(to_record(spec));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->devices, spec.devices);
  EXPECT_TRUE(back->layer_split.empty());
  storage::ModelRecord bad = to_record(spec);
  bad.device = "cpu:0=x,cpu:1=2";
  EXPECT_FALSE(to_spec(bad));
  bad.device = "cpu:0=3,cpu:1";
  EXPECT_FALSE(to_spec(bad));
}

TEST(ModelStoreConversion, NumbersThatDoNotFitASpecAreAnErrorNamingTheField) {
  storage::ModelRecord r = to_record(full_spec("x"));
  r.max_waiting = int64_t{1} << 33;
  auto s = to_spec(r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::storage_error);
  EXPECT_NE(s.error().message.find("max_waiting"), std::string::npos) << s.error().message;
  r = to_record(full_spec("x"));
  r.threads = -1;
  EXPECT_FALSE(to_spec(r).ok());
}

TEST(ModelStoreConversion, HugeKvCacheSizesAreClampedNotWrapped) {
  models::ModelSpec s = full_spec("x");
  s.kv_cache_bytes = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(to_record(s).kv_cache_bytes, std::numeric_limits<int64_t>::max());
}

TEST_F(ModelStoreTest, ConcurrentCallsFromManyThreadsLeaveAConsistentState) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store_->save(full_spec(id)).ok()) ++failures;
        models::ModelSpec shared = full_spec("shared");
        shared.path = "/m/" + id + ".gguf";
        if (!store_->save(shared).ok()) ++failures;
        if (i % 2 == 1 && !store_->remove(id).ok()) ++failures;
        if (!store_->load_all().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> expected{"shared"};
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; i += 2) expected.insert("t" + std::to_string(t) + "-" + std::to_string(i));
  }
  std::set<std::string> got;
  for (const auto& s : all()) {
    EXPECT_TRUE(got.insert(s.id).second) << "duplicate " << s.id;
    EXPECT_EQ(s.aliases, full_spec(s.id).aliases) << s.id;
  }
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace llmd::daemon
