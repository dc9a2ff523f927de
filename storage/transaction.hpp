// Transaction: RAII BEGIN ... COMMIT on one connection; rolled back unless committed.
//
// `immediate` takes SQLite's write lock at BEGIN, so a read-check-write sequence
// (such as reserving budget) sees no other writer between its read and its write.
#pragma once

#include "engine/core/result.hpp"

namespace llmd::storage {

class Database;

class Transaction {
 public:
  enum class Mode { deferred, immediate };

  // Begins a transaction; check ok() (or use begin()) before relying on it.
  static Result<Transaction> begin(Database& db, Mode mode = Mode::immediate);

  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status commit();
  void rollback();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_ = nullptr;  // null once finished
};

}  // namespace llmd::storage
