#include "storage/db_worker.hpp"

#include <pthread.h>

#include <exception>

#include "base/log.hpp"

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

void DbWorker::post(Task task) { enqueue(std::move(task), false); }

void DbWorker::post_grouped(Task task) { enqueue(std::move(task), true); }

void DbWorker::enqueue(Task task, bool grouped) {
  {
    std::lock_guard lock(mu_);
    if (!exited_) {
      queue_.push_back(Queued{std::move(task), grouped});
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
  std::vector<Task> batch;
  batch.reserve(max_group_tasks);
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        exited_ = true;  // stopping and drained
        return;
      }
      // The front task, and when it is grouped the grouped tasks right behind it.
      bool grouped = queue_.front().grouped;
      batch.push_back(std::move(queue_.front().task));
      queue_.pop_front();
      while (grouped && batch.size() < max_group_tasks && !queue_.empty() && queue_.front().grouped) {
        batch.push_back(std::move(queue_.front().task));
        queue_.pop_front();
      }
    }
    if (batch.size() == 1) {
      run_task(batch.front(), *db_, name_);
    } else {
      run_group(batch);
    }
  }
}

void DbWorker::run_group(std::vector<Task>& group) {
  Database& db = *db_;
  Status outcome = db.begin_group();
  if (outcome) {
    for (Task& task : group) {
      run_task(task, db, name_);
      if (!db.group_intact()) break;  // the rest would run outside the group
    }
    outcome = db.commit_group();  // rolls back and drops the callbacks unless intact
  }
  if (outcome) return;
  db.rollback_group();  // in case a task left it open without marking it failed
  log::warnf("storage: %zu tasks on %s could not share a commit (%s); running each alone", group.size(),
             name_.c_str(), outcome.error().message.c_str());
  for (Task& task : group) run_task(task, db, name_);
}

}  // namespace llmd::storage
