#include "storage/db_worker.hpp"

#include <pthread.h>

#include <exception>

#include "engine/core/log.hpp"

namespace llmd::storage {
namespace {

void run_task(DbWorker::Task& task, Database& db, const std::string& name) {
  try {
    task(db);
  } catch (const std::exception& e) {
    log::errorf("storage: a task on %s threw: %s", name.c_str(), e.what());
  } catch (...) {
    log::errorf("storage: a task on %s threw", name.c_str());
  }
}

}  // namespace

DbWorker::DbWorker(std::unique_ptr<Database> db, std::string name)
    : db_(std::move(db)), name_(std::move(name)) {
  thread_ = std::thread([this] { loop(); });
}

DbWorker::~DbWorker() { stop(); }

void DbWorker::post(Task task) {
  {
    std::lock_guard lock(mu_);
    if (!exited_) {
      queue_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  std::lock_guard lock(inline_mu_);
  run_task(task, *db_, name_);
}

void DbWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

size_t DbWorker::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void DbWorker::loop() {
  std::string thread_name = name_.substr(0, 15);  // the kernel's limit
  pthread_setname_np(pthread_self(), thread_name.c_str());
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        exited_ = true;  // stopping and drained
        return;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    run_task(task, *db_, name_);
  }
}

}  // namespace llmd::storage
