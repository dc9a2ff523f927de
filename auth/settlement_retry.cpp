#include "auth/settlement_retry.hpp"

#include <vector>

#include "base/log.hpp"

namespace llmd::auth {

void SettlementRetry::keep(const storage::Settlement& s) {
  std::lock_guard lock(mu_);
  if (kept_.size() >= max_kept_ && kept_.find(s.usage_id) == kept_.end()) {
    log::errorf("ledger: %zu settlements wait for the database already; usage row %lld stays open until the next "
                "start closes it as interrupted",
                kept_.size(), static_cast<long long>(s.usage_id));
    return;
  }
  kept_[s.usage_id] = s;
  count_ = kept_.size();
}

void SettlementRetry::written(int64_t usage_id) {
  std::lock_guard lock(mu_);
  kept_.erase(usage_id);
  count_ = kept_.size();
}

void SettlementRetry::retry(storage::Database& db) {
  if (count_.load() == 0) return;
  std::vector<storage::Settlement> todo;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : kept_) todo.push_back(s);
  }
  std::size_t done = 0;
  for (const storage::Settlement& s : todo) {
    auto r = storage::settle_usage(db, s);
    if (!r) {
      log::debugf("ledger: kept settlements still cannot be written: %s", r.error().message.c_str());
      break;
    }
    ++done;
    db.after_commit([self = shared_from_this(), id = s.usage_id] { self->written(id); });
  }
  if (done > 0) log::noticef("ledger: wrote %zu settlement(s) kept while the database failed", done);
}

}  // namespace llmd::auth
