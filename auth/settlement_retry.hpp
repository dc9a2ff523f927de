// SettlementRetry: settlements the ledger could not write (disk full, a
// read-only or failing database), kept in memory and written again once the
// ledger works again, so that a request served is billed even when storage
// failed at its end. Until then its usage row stays open with its
// reservation counted, so the team's budget is never under-charged; if the
// process stops first, the next start closes the row as interrupted.
//
// retry() runs inside ledger tasks (before each reservation and settlement):
// under a broken database it stops at the first failure, so it costs one
// failed statement; once storage recovers, the first ledger task writes what
// was kept. A kept settlement leaves only after the commit that wrote it
// (Database::after_commit), which makes retry() safe in grouped tasks that
// may run twice. settle_usage only closes open rows, so writing one twice is
// harmless. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "storage/database.hpp"
#include "storage/usage_ledger.hpp"

namespace llmd::auth {

class SettlementRetry : public std::enable_shared_from_this<SettlementRetry> {
 public:
  explicit SettlementRetry(std::size_t max_kept = 100000) : max_kept_(max_kept) {}

  // Keeps a settlement that failed (one per usage row; beyond max_kept it is
  // dropped with an error in the log and left to start-up recovery).
  void keep(const storage::Settlement& settlement);

  // Writes the kept settlements on `db`, oldest first, until one fails.
  void retry(storage::Database& db);

  std::size_t size() const { return count_.load(); }

 private:
  void written(int64_t usage_id);

  const std::size_t max_kept_;
  mutable std::mutex mu_;
  std::map<int64_t, storage::Settlement> kept_;  // by usage row id: oldest first
  std::atomic<std::size_t> count_{0};
};

}  // namespace llmd::auth
