// The daemon's state directory: created owner-only (0700), and locked so that
// two llmd processes never serve from (and recover) the same ledger at once.
#pragma once

#include <string>

#include "base/result.hpp"

namespace llmd::storage {

// Creates `dir` (and missing parents) with mode 0700; an existing directory owned
// by us is narrowed to 0700. Fails when it is not a directory or not ours (root
// may use another user's directory that is already private).
Status ensure_private_dir(const std::string& dir);

// The ledger's file inside the state directory.
std::string database_path(const std::string& state_dir);

// An exclusive advisory lock (flock) on `<dir>/llmd.lock`, held while alive.
class InstanceLock {
 public:
  static Result<InstanceLock> acquire(const std::string& dir);
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace llmd::storage
