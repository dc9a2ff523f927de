// DbWorker: ordered execution on one thread, blocking calls, late posts.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "storage/db_worker.hpp"
#include "storage/migrations.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

TEST(DbWorker, RunsTasksInOrderOnItsOwnThread) {
  test::TempDir dir;
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok());
  DbWorker worker(std::move(*db), "test-db");
  std::vector<int> order;
  std::thread::id seen;
  for (int i = 0; i < 100; ++i) {
    worker.post([&, i](Database&) {
      order.push_back(i);
      seen = std::this_thread::get_id();
    });
  }
  int64_t n = worker.call([](Database& d) {
    auto st = d.prepare("SELECT count(*) FROM teams");
    (void)st->step();
    return st->column_int(0);
  });
  EXPECT_EQ(n, 0);
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i);
  EXPECT_NE(seen, std::this_thread::get_id());
}

TEST(DbWorker, StopFinishesQueuedWorkAndLaterPostsRunInline) {
  test::TempDir dir;
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok());
  DbWorker worker(std::move(*db), "test-db");
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) worker.post([&](Database&) { ran++; });
  worker.stop();
  EXPECT_EQ(ran.load(), 50);
  std::thread::id where;
  worker.post([&](Database&) {
    ran++;
    where = std::this_thread::get_id();
  });
  EXPECT_EQ(ran.load(), 51);
  EXPECT_EQ(where, std::this_thread::get_id());
  worker.stop();  // idempotent
}

TEST(DbWorker, ManyThreadsPostingConcurrently) {
  test::TempDir dir;
  auto db = open_database(dir.file("l.db"));
  ASSERT_TRUE(db.ok());
  DbWorker worker(std::move(*db), "test-db");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        worker.post([t, i](Database& d) {
          auto st = d.prepare("INSERT INTO audit_log (at, actor, action, target) VALUES (?1, 'x', 'y', 'z')");
          ASSERT_TRUE(st->bind(1, int64_t{t * 1000 + i}).run().ok());
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  int64_t n = worker.call([](Database& d) {
    auto st = d.prepare("SELECT count(*) FROM audit_log");
    (void)st->step();
    return st->column_int(0);
  });
  EXPECT_EQ(n, 400);
}

}  // namespace
}  // namespace llmd::storage
