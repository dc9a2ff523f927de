// SqliteModelStore: the model manager's ModelStore over the daemon's SQLite
// database (table `models`, schema v2), so that models added over the admin
// API and their desired state survive a restart.
//
// Every call takes the store's mutex for its whole use of the connection, so
// calls may come from any thread. The connection must not be used elsewhere
// at the same time: give the store a connection of its own (SQLite's WAL mode
// lets it sit beside the ledger's connections on the same file).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "auth/clock.hpp"
#include "models/model_store.hpp"
#include "storage/database.hpp"
#include "storage/model_records.hpp"

namespace llmd::daemon {

class SqliteModelStore : public models::ModelStore {
 public:
  // `db` (already migrated) and `clock` must outlive the store.
  explicit SqliteModelStore(storage::Database& db, const auth::Clock& clock = auth::system_clock())
      : db_(db), clock_(clock) {}

  // Rows come back with source api, whatever the spec held when it was saved.
  // Errors: storage_*, or storage_error naming the model whose row cannot be
  // represented in a ModelSpec.
  Result<std::vector<models::ModelSpec>> load_all() override;
  // One transaction: the row and its aliases change together or not at all.
  // Errors: invalid_argument for an empty id, storage_*.
  Status save(const models::ModelSpec& spec) override;
  Status remove(const std::string& id) override;

 private:
  storage::Database& db_;
  const auth::Clock& clock_;
  std::mutex mu_;
};

// The conversions, exposed for tests.
storage::ModelRecord to_record(const models::ModelSpec& spec);
// Errors: storage_error when a number does not fit its ModelSpec field.
Result<models::ModelSpec> to_spec(const storage::ModelRecord& record);

}  // namespace llmd::daemon
