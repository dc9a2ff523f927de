// Commit groups: Database::begin_group/commit_group/after_commit, Transaction as a
// savepoint inside a group, and DbWorker::post_grouped sharing one COMMIT among
// queued tasks (with the fall-back of running each task alone).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/database.hpp"
#include "storage/db_worker.hpp"
#include "storage/transaction.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

constexpr Sql kSchema = "CREATE TABLE rows (id INTEGER PRIMARY KEY, n INTEGER NOT NULL UNIQUE);";

std::unique_ptr<Database> open_rows_db(const std::string& path) {
  auto db = Database::open(path);
  EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
  if (!db.ok()) return nullptr;
  auto made = (*db)->run_script(kSchema);
  if (!made.ok() && made.error().message.find("already exists") == std::string::npos) {
    ADD_FAILURE() << made.error().message;
  }
  return std::move(*db);
}

// The values of `rows` in insertion (id) order.
std::vector<int64_t> row_values(Database& db) {
  std::vector<int64_t> out;
  auto st = db.prepare("SELECT n FROM rows ORDER BY id");
  EXPECT_TRUE(st.ok());
  for (;;) {
    auto row = st->step();
    EXPECT_TRUE(row.ok());
    if (!row.ok() || !*row) break;
    out.push_back(st->column_int(0));
  }
  return out;
}

int64_t count_rows_with(Database& db, int64_t n) {
  auto st = db.prepare("SELECT count(*) FROM rows WHERE n = ?1");
  EXPECT_TRUE(st.ok());
  st->bind(1, n);
  auto row = st->step();
  EXPECT_TRUE(row.ok() && *row);
  return st->column_int(0);
}

Status insert_value(Database& db, int64_t n) {
  auto st = db.prepare("INSERT INTO rows (n) VALUES (?1)");
  if (!st) return st.take_error();
  return st->bind(1, n).run();
}

// One unit of work in its own Transaction (a savepoint inside a group).
Status insert_in_transaction(Database& db, int64_t n) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  if (auto r = insert_value(db, n); !r) return r;
  return tx->commit();
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

// Counts the commits of write transactions on a connection; can turn the next
// commit of a commit group into a rollback (SQLite's commit-hook contract).
struct CommitCounter {
  Database* db = nullptr;
  int commits = 0;            // commits that went through
  int group_commits_to_fail = 0;

  static int hook(void* self) {
    auto* c = static_cast<CommitCounter*>(self);
    if (c->group_commits_to_fail > 0 && c->db->in_group()) {
      --c->group_commits_to_fail;
      return 1;  // SQLite rolls the transaction back and COMMIT fails
    }
    ++c->commits;
    return 0;
  }
  void install(Database& d) {
    db = &d;
    sqlite3_commit_hook(d.handle(), &CommitCounter::hook, this);
  }
};

// A worker on a fresh `rows` database, with a commit counter on its connection.
class GroupedWorker {
 public:
  GroupedWorker() : path_(dir_.file("g.db")) {
    auto db = open_rows_db(path_);
    worker_ = std::make_unique<DbWorker>(std::move(db), "test-group");
    worker_->call([this](Database& d) { counter_.install(d); });
  }
  ~GroupedWorker() {
    worker_->call([](Database& d) { sqlite3_commit_hook(d.handle(), nullptr, nullptr); });
    worker_->stop();
  }

  DbWorker& worker() { return *worker_; }
  const std::string& path() const { return path_; }
  // Read on the worker's thread, after everything posted so far.
  int commits() { return worker_->call([this](Database&) { return counter_.commits; }); }
  void fail_next_group_commits(int n) {
    worker_->call([this, n](Database&) { counter_.group_commits_to_fail = n; });
  }
  int group_commits_left_to_fail() {
    return worker_->call([this](Database&) { return counter_.group_commits_to_fail; });
  }
  std::vector<int64_t> values() { return worker_->call([](Database& d) { return row_values(d); }); }

  // Holds the worker in a task of its own until release(), so that what is
  // posted meanwhile waits in the queue side by side.
  void hold() {
    gate_ = std::promise<void>();
    std::shared_future<void> opened = gate_.get_future().share();
    worker_->post([opened](Database&) { opened.wait(); });
  }
  void release() { gate_.set_value(); }

 private:
  test::TempDir dir_;
  std::string path_;
  std::unique_ptr<DbWorker> worker_;
  CommitCounter counter_;
  std::promise<void> gate_;
};

// ---------------------------------------------------------------- Database ---

TEST(DatabaseGroup, AfterCommitRunsAtOnceOutsideAGroup) {
  test::TempDir dir;
  auto db = open_rows_db(dir.file("a.db"));
  ASSERT_TRUE(db);
  int ran = 0;
  EXPECT_FALSE(db->in_group());
  db->after_commit([&] { ++ran; });
  EXPECT_EQ(ran, 1);
}

TEST(DatabaseGroup, CallbacksWaitForTheCommitAndRunInOrder) {
  test::TempDir dir;
  auto db = open_rows_db(dir.file("a.db"));
  ASSERT_TRUE(db);
  auto other = open_rows_db(dir.file("a.db"));
  ASSERT_TRUE(other);
  std::vector<int> order;
  ASSERT_TRUE(db->begin_group().ok());
  EXPECT_TRUE(db->in_group());
  EXPECT_FALSE(db->begin_group().ok());  // one group at a time
  ASSERT_TRUE(insert_in_transaction(*db, 1).ok());
  db->after_commit([&] {
    order.push_back(1);
    EXPECT_EQ(count_rows_with(*other, 1), 1);  // committed before the callback runs
  });
  ASSERT_TRUE(insert_in_transaction(*db, 2).ok());
  db->after_commit([&] { order.push_back(2); });
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(count_rows_with(*other, 1), 0);  // nothing committed yet
  ASSERT_TRUE(db->commit_group().ok());
  EXPECT_FALSE(db->in_group());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(row_values(*other), (std::vector<int64_t>{1, 2}));
}

TEST(DatabaseGroup, RollbackUndoesTheGroupAndDropsItsCallbacks) {
  test::TempDir dir;
  auto db = open_rows_db(dir.file("a.db"));
  ASSERT_TRUE(db);
  int ran = 0;
  ASSERT_TRUE(db->begin_group().ok());
  ASSERT_TRUE(insert_in_transaction(*db, 7).ok());
  db->after_commit([&] { ++ran; });
  db->rollback_group();
  EXPECT_FALSE(db->in_group());
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(row_values(*db).empty());
  // The connection is usable again, alone and in a new group.
  ASSERT_TRUE(insert_in_transaction(*db, 8).ok());
  ASSERT_TRUE(db->begin_group().ok());
  ASSERT_TRUE(db->commit_group().ok());
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(row_values(*db), (std::vector<int64_t>{8}));
}

TEST(TransactionInGroup, RollbackUndoesOnlyItsOwnSavepoint) {
  test::TempDir dir;
  auto db = open_rows_db(dir.file("a.db"));
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->begin_group().ok());
  ASSERT_TRUE(insert_in_transaction(*db, 1).ok());
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(insert_value(*db, 2).ok());
    auto dup = insert_value(*db, 1);  // UNIQUE violation
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::storage_constraint);
  }  // rolled back: 2 goes, 1 stays
  {
    auto tx = Transaction::begin(*db, Transaction::Mode::deferred);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(insert_value(*db, 3).ok());
    tx->rollback();
  }
  ASSERT_TRUE(insert_in_transaction(*db, 4).ok());
  EXPECT_TRUE(db->group_intact());
  ASSERT_TRUE(db->commit_group().ok());
  EXPECT_EQ(row_values(*db), (std::vector<int64_t>{1, 4}));
}

TEST(TransactionInGroup, NoticesWhenTheGroupTransactionIsGone) {
  test::TempDir dir;
  auto db = open_rows_db(dir.file("a.db"));
  ASSERT_TRUE(db);
  int ran = 0;
  ASSERT_TRUE(db->begin_group().ok());
  ASSERT_TRUE(insert_in_transaction(*db, 1).ok());
  db->after_commit([&] { ++ran; });
  // Ends the transaction under the group's feet, as SQLite itself does after
  // some I/O, disk-full or out-of-memory errors.
  ASSERT_EQ(sqlite3_exec(db->handle(), "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_FALSE(db->group_intact());
  auto tx = Transaction::begin(*db);
  EXPECT_FALSE(tx.ok());  // no savepoint that would silently start a transaction of its own
  EXPECT_TRUE(sqlite3_get_autocommit(db->handle()));
  auto committed = db->commit_group();
  EXPECT_FALSE(committed.ok());
  EXPECT_FALSE(db->in_group());
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(row_values(*db).empty());
}

// ---------------------------------------------------------------- DbWorker ---

TEST(DbWorkerGroup, GroupedTasksQueuedTogetherShareCommits) {
  GroupedWorker g;
  const int64_t n = 150;  // more than two groups' worth
  std::vector<int64_t> callbacks;  // touched only on the worker's thread
  std::vector<std::string> errors;
  const int before = g.commits();
  g.hold();
  for (int64_t i = 0; i < n; ++i) {
    g.worker().post_grouped([i, &callbacks, &errors](Database& db) {
      auto r = insert_in_transaction(db, i);
      if (!r) errors.push_back(r.error().message);
      db.after_commit([i, &callbacks] { callbacks.push_back(i); });
    });
  }
  g.release();
  const int64_t cap = static_cast<int64_t>(DbWorker::max_group_tasks);
  EXPECT_EQ(g.commits() - before, (n + cap - 1) / cap);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front());
  EXPECT_EQ(g.values(), iota(n));
  EXPECT_EQ(g.worker().call([&](Database&) { return callbacks; }), iota(n));
}

TEST(DbWorkerGroup, PlainTasksKeepTheirOwnCommitAndSplitGroups) {
  GroupedWorker g;
  const int before = g.commits();
  g.hold();
  // grouped 0-2, plain 3, grouped 4-5, plain 6, plain 7
  const bool grouped[] = {true, true, true, false, true, true, false, false};
  for (int64_t i = 0; i < 8; ++i) {
    auto task = [i](Database& db) { ASSERT_TRUE(insert_in_transaction(db, i).ok()); };
    if (grouped[i]) g.worker().post_grouped(task);
    else g.worker().post(task);
  }
  g.release();
  EXPECT_EQ(g.commits() - before, 5);  // {0,1,2} {3} {4,5} {6} {7}
  EXPECT_EQ(g.values(), iota(8));
}

TEST(DbWorkerGroup, AFailingTaskRollsBackOnlyItsSavepoint) {
  GroupedWorker g;
  struct Outcome {
    int64_t task;
    std::string error;  // empty: committed
  };
  std::vector<Outcome> outcomes;  // worker thread only
  const int before = g.commits();
  g.hold();
  for (int64_t i = 0; i < 10; ++i) {
    g.worker().post_grouped([i, &outcomes](Database& db) {
      Status r;
      if (i == 5) {
        // Writes a row, then collides with task 3's row: all of it must go.
        auto tx = Transaction::begin(db);
        r = tx ? insert_value(db, 100) : Status(tx.take_error());
        if (r) r = insert_value(db, 3);
        if (r) r = tx->commit();
      } else {
        r = insert_in_transaction(db, i);
      }
      std::string error = r ? "" : std::string(r.error().code_name());
      db.after_commit([i, error, &outcomes] { outcomes.push_back({i, error}); });
    });
  }
  g.release();
  EXPECT_EQ(g.commits() - before, 1);
  EXPECT_EQ(g.values(), (std::vector<int64_t>{0, 1, 2, 3, 4, 6, 7, 8, 9}));
  auto seen = g.worker().call([&](Database&) { return outcomes; });
  ASSERT_EQ(seen.size(), 10u);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(seen[static_cast<size_t>(i)].task, i);
    EXPECT_EQ(seen[static_cast<size_t>(i)].error, i == 5 ? "storage_constraint" : "") << "task " << i;
  }
}

TEST(DbWorkerGroup, CallbacksRunOnlyAfterTheCommitIsVisibleToOtherConnections) {
  GroupedWorker g;
  auto other = open_rows_db(g.path());  // used only on the worker's thread below
  ASSERT_TRUE(other);
  Database* reader = other.get();
  std::vector<int64_t> seen_in_task, seen_in_callback;  // worker thread only
  g.hold();
  for (int64_t i = 0; i < 6; ++i) {
    auto task = [i, reader, &seen_in_task, &seen_in_callback](Database& db) {
      ASSERT_TRUE(insert_in_transaction(db, i).ok());
      seen_in_task.push_back(count_rows_with(*reader, i));
      db.after_commit([i, reader, &seen_in_callback] { seen_in_callback.push_back(count_rows_with(*reader, i)); });
    };
    if (i < 5) g.worker().post_grouped(task);
    else g.worker().post(task);  // alone: committed by its own Transaction
  }
  g.release();
  auto [in_task, in_callback] = g.worker().call([&](Database&) { return std::pair(seen_in_task, seen_in_callback); });
  // Inside the group the row is not yet committed; alone it is as soon as the Transaction commits.
  EXPECT_EQ(in_task, (std::vector<int64_t>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(in_callback, (std::vector<int64_t>{1, 1, 1, 1, 1, 1}));
}

TEST(DbWorkerGroup, AGroupWhoseCommitFailsRunsEachTaskAgainAlone) {
  GroupedWorker g;
  const int64_t n = 8;
  std::vector<int> runs(n, 0), callbacks(n, 0);  // worker thread only
  g.fail_next_group_commits(1);
  const int before = g.commits();
  g.hold();
  for (int64_t i = 0; i < n; ++i) {
    g.worker().post_grouped([i, &runs, &callbacks](Database& db) {
      runs[static_cast<size_t>(i)]++;
      ASSERT_TRUE(insert_in_transaction(db, i).ok());
      db.after_commit([i, &callbacks] { callbacks[static_cast<size_t>(i)]++; });
    });
  }
  g.release();
  EXPECT_EQ(g.group_commits_left_to_fail(), 0);  // the group's COMMIT really failed
  EXPECT_EQ(g.commits() - before, n);            // then one commit per task
  EXPECT_EQ(g.values(), iota(n));                // none lost, none doubled
  auto [r, c] = g.worker().call([&](Database&) { return std::pair(runs, callbacks); });
  EXPECT_EQ(r, std::vector<int>(n, 2));
  EXPECT_EQ(c, std::vector<int>(n, 1));
}

// The worker cannot get the write lock for the group (another connection holds
// it); the lock is let go the second time the worker waits for it, so the tasks,
// each run alone, succeed.
TEST(DbWorkerGroup, AGroupThatCannotBeginRunsEachTaskAlone) {
  GroupedWorker g;
  auto blocker = open_rows_db(g.path());
  ASSERT_TRUE(blocker);
  ASSERT_TRUE(blocker->run_script("BEGIN IMMEDIATE; INSERT INTO rows (n) VALUES (1000);").ok());
  struct Busy {
    Database* blocker;
    int waits = 0;
    static int handler(void* self, int) {
      auto* b = static_cast<Busy*>(self);
      if (++b->waits == 1) return 0;  // give up: BEGIN IMMEDIATE of the group fails
      (void)b->blocker->run_script("COMMIT");
      return 1;  // try again, now free
    }
  } busy{blocker.get()};
  g.worker().call([&](Database& d) { sqlite3_busy_handler(d.handle(), &Busy::handler, &busy); });

  const int64_t n = 5;
  std::vector<int> runs(n, 0), callbacks(n, 0);
  g.hold();
  for (int64_t i = 0; i < n; ++i) {
    g.worker().post_grouped([i, &runs, &callbacks](Database& db) {
      runs[static_cast<size_t>(i)]++;
      ASSERT_TRUE(insert_in_transaction(db, i).ok());
      db.after_commit([i, &callbacks] { callbacks[static_cast<size_t>(i)]++; });
    });
  }
  g.release();
  auto [r, c, waits] = g.worker().call([&](Database&) { return std::tuple(runs, callbacks, busy.waits); });
  EXPECT_EQ(waits, 2);
  EXPECT_EQ(r, std::vector<int>(n, 1));
  EXPECT_EQ(c, std::vector<int>(n, 1));
  EXPECT_EQ(g.values(), (std::vector<int64_t>{1000, 0, 1, 2, 3, 4}));
  g.worker().call([](Database& d) { sqlite3_busy_timeout(d.handle(), 5000); });
}

TEST(DbWorkerGroup, ATaskThatLosesTheSharedTransactionMakesTheGroupRunAlone) {
  GroupedWorker g;
  const int64_t n = 6;
  std::vector<int> runs(n, 0), callbacks(n, 0);
  g.hold();
  for (int64_t i = 0; i < n; ++i) {
    g.worker().post_grouped([i, &runs, &callbacks](Database& db) {
      int run = ++runs[static_cast<size_t>(i)];
      auto r = insert_in_transaction(db, i);
      if (i == 2 && run == 1) {
        // What SQLite does on its own after some I/O or disk-full errors.
        ASSERT_EQ(sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
      }
      if (r) db.after_commit([i, &callbacks] { callbacks[static_cast<size_t>(i)]++; });
    });
  }
  g.release();
  EXPECT_EQ(g.values(), iota(n));
  auto [r, c] = g.worker().call([&](Database&) { return std::pair(runs, callbacks); });
  // Tasks 3-5 never ran in the broken group: once alone only.
  EXPECT_EQ(r, (std::vector<int>{2, 2, 2, 1, 1, 1}));
  EXPECT_EQ(c, std::vector<int>(n, 1));
}

TEST(DbWorkerGroup, GroupedPostsAfterStopRunInlineAndAlone) {
  GroupedWorker g;
  g.worker().stop();
  bool in_group = true;
  int callbacks = 0;
  g.worker().post_grouped([&](Database& db) {
    in_group = db.in_group();
    ASSERT_TRUE(insert_in_transaction(db, 1).ok());
    db.after_commit([&] { ++callbacks; });
    EXPECT_EQ(callbacks, 1);  // ran at once
  });
  EXPECT_FALSE(in_group);
  EXPECT_EQ(callbacks, 1);
  EXPECT_EQ(g.values(), (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace llmd::storage
