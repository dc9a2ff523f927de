#include "storage/transaction.hpp"

#include <sqlite3.h>

#include <utility>

#include "storage/database.hpp"

namespace llmd::storage {

Result<Transaction> Transaction::begin(Database& db, Mode mode) {
  auto st = mode == Mode::immediate ? db.prepare("BEGIN IMMEDIATE") : db.prepare("BEGIN DEFERRED");
  if (!st) return st.take_error();
  if (auto r = st->run(); !r) return r.take_error();
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() { rollback(); }

Status Transaction::commit() {
  if (!db_) return Error("storage_error", "commit of a finished transaction");
  auto st = db_->prepare("COMMIT");
  if (!st) return st.take_error();
  auto r = st->run();
  if (!r) {
    // A failed COMMIT (e.g. busy) leaves the transaction open: roll it back.
    rollback();
    return r;
  }
  db_ = nullptr;
  return ok_status();
}

void Transaction::rollback() {
  if (!db_) return;
  Database* db = std::exchange(db_, nullptr);
  if (sqlite3_get_autocommit(db->handle())) return;  // SQLite already rolled it back
  if (auto st = db->prepare("ROLLBACK"); st) (void)st->run();
}

}  // namespace llmd::storage
