// DbWorker: a thread that owns one SQLite connection and runs tasks posted to it
// in order.
//
// This is how the HTTP side reaches SQLite without blocking: an I/O thread posts a
// task (with a completion callback that hands the answer back to its own executor)
// and moves on; all of one connection's statements run on the worker's thread,
// one short transaction per task. A single writer thread also means requests never
// contend for SQLite's write lock inside the process (no busy-wait sleeps).
//
// Tasks posted after stop() run inline on the caller's thread (serialised), so a
// late settlement is never lost.
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

#include "storage/database.hpp"

namespace llmd::storage {

class DbWorker {
 public:
  using Task = std::function<void(Database&)>;

  DbWorker(std::unique_ptr<Database> db, std::string name);
  ~DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;

  // Queues `task` (or runs it inline once stopped).
  void post(Task task);

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
  void loop();

  std::unique_ptr<Database> db_;
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  bool exited_ = false;        // the thread will not touch db_ again
  std::mutex inline_mu_;       // serialises tasks run inline after exit
  std::thread thread_;
};

}  // namespace llmd::storage
