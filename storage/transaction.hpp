// Transaction: RAII BEGIN ... COMMIT on one connection; rolled back unless committed.
//
// `immediate` takes SQLite's write lock at BEGIN, so a read-check-write sequence
// (such as reserving budget) sees no other writer between its read and its write.
//
// Inside a commit group (Database::begin_group) a Transaction is a SAVEPOINT in
// the group's transaction instead: commit() releases it (its changes become part
// of the group and reach disk when the group commits), rollback() undoes only its
// own changes. The group already holds the write lock, so both modes behave alike
// there. When SQLite has rolled back the whole group on its own (after some I/O,
// disk-full, busy or out-of-memory errors) the group is marked failed.
#pragma once

#include "base/result.hpp"

namespace llmd::storage {

class Database;

class Transaction {
 public:
  enum class Mode { deferred, immediate };

  // Begins a transaction (a savepoint inside a commit group).
  static Result<Transaction> begin(Database& db, Mode mode = Mode::immediate);

  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status commit();
  void rollback();

 private:
  Transaction(Database* db, bool savepoint) : db_(db), savepoint_(savepoint) {}
  Status commit_savepoint();
  void rollback_savepoint(Database& db);

  Database* db_ = nullptr;  // null once finished
  bool savepoint_ = false;  // a savepoint inside a commit group
};

}  // namespace llmd::storage
