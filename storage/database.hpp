// Database: one SQLite connection, configured for llmd (WAL journal, foreign keys,
// busy timeout, defensive mode), that runs only prepared statements made from
// compile-time SQL (see sql.hpp).
//
// A connection belongs to one thread at a time (it is opened in SQLite's
// multi-thread mode); the DbWorker gives each connection its own thread.
// Prepared statements are cached per connection, keyed by their SQL text.
//
// A commit group lets several short units of work share one transaction and so
// one COMMIT (fewer WAL writes and file locks under load): begin_group() opens
// it, each unit's Transaction becomes a savepoint inside it, and commit_group()
// commits them all at once. Work that must not be seen before its data is on
// disk (answering a client, say) goes through after_commit().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "base/result.hpp"
#include "storage/commit_group.hpp"
#include "storage/sql.hpp"
#include "storage/statement.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace llmd::storage {

// How hard SQLite pushes each commit to disk. In WAL mode `normal` survives a
// crash of the process (kill -9) but may lose the last commits on power loss;
// `full` survives power loss at the price of one fsync per commit.
enum class Synchronous { normal, full };

struct DatabaseOptions {
  std::chrono::milliseconds busy_timeout{5000};
  Synchronous synchronous = Synchronous::normal;
};

class Database {
 public:
  // Opens (creating if needed) the database file at `path` and configures it.
  static Result<std::unique_ptr<Database>> open(const std::string& path,
                                                const DatabaseOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Borrows the cached prepared statement for `sql` (preparing it on first use).
  Result<Statement> prepare(Sql sql);

  // Runs every statement in a constant script (used for schema migrations).
  Status run_script(Sql script);

  // --- Commit groups -------------------------------------------------------
  // Opens a group with BEGIN IMMEDIATE (so it holds the write lock from the
  // start). Fails when a group or a transaction is already open, or when the
  // write lock cannot be had within the busy timeout (storage_busy).
  Status begin_group();
  // Commits the group, then runs its after-commit callbacks in order. When the
  // group was marked failed, SQLite ended its transaction, or COMMIT fails, the
  // group is rolled back instead, its callbacks are dropped and an error says why.
  Status commit_group();
  // Rolls the group back (unless SQLite already did) and drops its callbacks.
  void rollback_group();
  bool in_group() const { return group_.open(); }
  // True while a group is open, nothing marked it failed and its transaction
  // is still live (SQLite rolls the whole transaction back on its own after
  // some I/O, disk-full, busy or out-of-memory errors).
  bool group_intact() const;
  // Something inside the group failed in a way a savepoint cannot undo.
  void mark_group_failed() { group_.mark_failed(); }
  // Runs `fn` now when no group is open; otherwise after the group commits
  // (and never, if the group is rolled back).
  void after_commit(std::function<void()> fn);

  int64_t last_insert_rowid() const;
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // An Error for the connection's most recent failure (code storage_busy,
  // storage_constraint, storage_full, storage_read_only, storage_io,
  // storage_corrupt, else storage_error) that names `what`.
  Error last_error(const char* what) const;
  Error error_for(int rc, const char* what) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status configure(const DatabaseOptions& options);

  sqlite3* db_ = nullptr;
  std::string path_;
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool busy = false;  // borrowed by a live Statement
  };
  std::unordered_map<const char*, Cached> cache_;
  CommitGroup group_;
};

}  // namespace llmd::storage
