#include "storage/transaction.hpp"

#include <sqlite3.h>

#include <utility>

#include "storage/database.hpp"

namespace llmd::storage {

Result<Transaction> Transaction::begin(Database& db, Mode mode) {
  if (db.in_group()) {
    if (!db.group_intact()) {
      // Without the group's transaction a SAVEPOINT would quietly start a new one.
      db.mark_group_failed();
      return Error(ErrorCode::storage_error, "the shared transaction of this commit group is no longer open");
    }
    auto st = db.prepare("SAVEPOINT llmd_tx");
    if (!st) return st.take_error();
    if (auto r = st->run(); !r) return r.take_error();
    return Transaction(&db, true);
  }
  auto st = mode == Mode::immediate ? db.prepare("BEGIN IMMEDIATE") : db.prepare("BEGIN DEFERRED");
  if (!st) return st.take_error();
  if (auto r = st->run(); !r) return r.take_error();
  return Transaction(&db, false);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), savepoint_(other.savepoint_) {}

Transaction::~Transaction() { rollback(); }

Status Transaction::commit() {
  if (!db_) return Error(ErrorCode::storage_error, "commit of a finished transaction");
  if (savepoint_) return commit_savepoint();
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

Status Transaction::commit_savepoint() {
  if (sqlite3_get_autocommit(db_->handle())) {
    Database* db = std::exchange(db_, nullptr);
    db->mark_group_failed();
    return Error(ErrorCode::storage_error, "the shared transaction of this commit group was rolled back by SQLite");
  }
  Status released;
  {
    auto st = db_->prepare("RELEASE llmd_tx");
    released = st ? st->run() : Status(st.take_error());
  }
  if (!released) {
    rollback();
    return released;
  }
  db_ = nullptr;
  return ok_status();
}

void Transaction::rollback() {
  if (!db_) return;
  Database* db = std::exchange(db_, nullptr);
  if (savepoint_) {
    rollback_savepoint(*db);
    return;
  }
  if (sqlite3_get_autocommit(db->handle())) return;  // SQLite already rolled it back
  if (auto st = db->prepare("ROLLBACK"); st) (void)st->run();
}

void Transaction::rollback_savepoint(Database& db) {
  if (sqlite3_get_autocommit(db.handle())) {
    // SQLite rolled back the group's whole transaction: the other tasks' work is gone too.
    db.mark_group_failed();
    return;
  }
  // ROLLBACK TO undoes the savepoint's changes but keeps it open; RELEASE ends it.
  bool undone = false;
  if (auto st = db.prepare("ROLLBACK TO llmd_tx"); st) undone = st->run().ok();
  bool released = false;
  if (auto st = db.prepare("RELEASE llmd_tx"); st) released = st->run().ok();
  if (!undone || !released || sqlite3_get_autocommit(db.handle())) db.mark_group_failed();
}

}  // namespace llmd::storage
