// CommitGroup: the bookkeeping of one transaction that several tasks share on a
// Database (see Database::begin_group and DbWorker::post_grouped).
//
// It knows whether a group is open, whether something inside it failed so that
// it must not be committed, and which after-commit callbacks wait for its
// COMMIT. It runs no SQL itself: Database does that and tells it what happened.
#pragma once

#include <functional>
#include <vector>

namespace llmd::storage {

class CommitGroup {
 public:
  using Callback = std::function<void()>;

  bool open() const { return open_; }
  bool failed() const { return failed_; }

  // A new group begins: nothing failed yet, no callbacks queued.
  void start();
  // Something inside the group went wrong: the group may only be rolled back.
  void mark_failed() { failed_ = true; }
  // Queues `fn` until the group commits.
  void defer(Callback fn) { callbacks_.push_back(std::move(fn)); }

  // The group committed: closes it and hands back its callbacks in the order
  // they were queued.
  std::vector<Callback> close_committed();
  // The group was rolled back: closes it and drops its callbacks.
  void close_abandoned();

  // Runs each callback in order; one that throws is logged and the rest still run.
  static void run_all(std::vector<Callback>& callbacks);

 private:
  bool open_ = false;
  bool failed_ = false;
  std::vector<Callback> callbacks_;
};

}  // namespace llmd::storage
