#include "storage/commit_group.hpp"

#include <exception>
#include <utility>

#include "base/log.hpp"

namespace llmd::storage {

void CommitGroup::start() {
  open_ = true;
  failed_ = false;
  callbacks_.clear();
}

std::vector<CommitGroup::Callback> CommitGroup::close_committed() {
  open_ = false;
  failed_ = false;
  return std::exchange(callbacks_, {});
}

void CommitGroup::close_abandoned() {
  open_ = false;
  failed_ = false;
  callbacks_.clear();
}

void CommitGroup::run_all(std::vector<Callback>& callbacks) {
  for (Callback& fn : callbacks) {
    try {
      fn();
    } catch (const std::exception& e) {
      log::errorf("storage: an after-commit callback threw: %s", e.what());
    } catch (...) {
      log::errorf("storage: an after-commit callback threw");
    }
  }
}

}  // namespace llmd::storage
