// DbWorker: a thread that owns one SQLite connection and runs tasks posted to it
// in order.
//
// This is how the HTTP side reaches SQLite without blocking: an I/O thread posts a
// task (with a completion callback that hands the answer back to its own executor)
// and moves on; all of one connection's statements run on the worker's thread,
// one short transaction per task (or per group of tasks, see below). A single
// writer thread also means requests never contend for SQLite's write lock inside
// the process (no busy-wait sleeps).
//
// Tasks posted after stop() run inline on the caller's thread (serialised), so a
// late settlement is never lost.
//
// Group commit: tasks posted with post_grouped() that wait in the queue side by
// side (up to max_group_tasks) run in one commit group (Database::begin_group):
// each task's Transaction becomes a savepoint and the group pays for one COMMIT.
// A task whose own work fails rolls back only its savepoint. When the group as a
// whole cannot begin or commit (busy, disk full, I/O error, SQLite rolled it
// back), it is rolled back, its after-commit callbacks are dropped, one warning
// is logged, and each of its tasks runs again alone, in its own transaction.
//
// The contract for a grouped task, which that re-run relies on: it may run more
// than once (its database work from the failed run is undone before it runs
// again), and it changes nothing outside the database except through
// Database::after_commit() (logging aside). Everything else (answering a
// requester, touching in-memory state) goes into an after_commit() callback,
// which runs exactly once, after the data it depends on is committed. A grouped
// task must therefore not move its own captures out (copy them into the
// callback instead).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "storage/database.hpp"

namespace llmd::storage {

class DbWorker {
 public:
  using Task = std::function<void(Database&)>;

  DbWorker(std::unique_ptr<Database> db, std::string name);
  ~DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;

  // Most grouped tasks that share one commit.
  static constexpr size_t max_group_tasks = 64;

  // Queues `task` (or runs it inline once stopped). It runs alone, in its own
  // transaction(s).
  void post(Task task);

  // Queues `task`, which may share a commit with the grouped tasks queued right
  // before or after it. See the contract above. Runs inline, alone, once stopped.
  void post_grouped(Task task);

  // Runs `f(Database&)` on the worker and waits for its result. For tests, tools
  // and start-up; never call it from an I/O thread.
  template <typename F>
  std::invoke_result_t<F&, Database&> call(F f) {
    using R = std::invoke_result_t<F&, Database&>;
    auto done = std::make_shared<std::promise<R>>();
    std::future<R> result = done->get_future();
    post([done, fn = std::move(f)](Database& db) mutable {
      if constexpr (std::is_void_v<R>) {
        fn(db);
        done->set_value();
      } else {
        done->set_value(fn(db));
      }
    });
    return result.get();
  }

  // Finishes the queued tasks and joins the thread. Idempotent.
  void stop();

  // Tasks queued and not yet started.
  size_t pending() const;

  const std::string& name() const { return name_; }

 private:
  struct Queued {
    Task task;
    bool grouped = false;
  };

  void enqueue(Task task, bool grouped);
  void loop();
  void run_group(std::vector<Task>& group);

  std::unique_ptr<Database> db_;
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  bool exited_ = false;        // the thread will not touch db_ again
  std::mutex inline_mu_;       // serialises tasks run inline after exit
  std::thread thread_;
};

}  // namespace llmd::storage
