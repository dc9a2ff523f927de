#include "storage/database.hpp"

#include <sqlite3.h>

#include <string>

#include "storage/integrity.hpp"

namespace llmd::storage {

Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                 const DatabaseOptions& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Error(ErrorCode::storage_error, "cannot open database " + path + ": " + why);
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  // SQLite falls back to read-only when the file cannot be opened for
  // writing (owner, mode, a read-only file system): refuse that at once, with
  // a clear message, rather than at the first write.
  if (sqlite3_db_readonly(raw, "main") == 1) {
    return Error(ErrorCode::storage_read_only, "the database " + path +
                                                   " cannot be written (check its owner and mode and the file "
                                                   "system's); llmd needs to write it");
  }
  if (auto st = db->configure(options); !st) return explain_damage(st.take_error(), path);
  return db;
}

Database::~Database() {
  for (auto& [text, cached] : cache_) sqlite3_finalize(cached.stmt);
  cache_.clear();
  // Closing the last connection checkpoints the WAL into the main file.
  sqlite3_close_v2(db_);
}

Status Database::configure(const DatabaseOptions& options) {
  // Defensive mode: no writes to the schema through PRAGMAs, no corrupting tricks.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
  int fk = 0;
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_FKEY, 1, &fk);
  if (fk != 1) return Error(ErrorCode::storage_error, "SQLite was built without foreign key support");
  sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));

  {
    auto st = prepare("PRAGMA journal_mode = WAL");
    if (!st) return st.take_error();
    auto row = st->step();
    if (!row) return row.take_error();
    std::string mode = *row ? st->column_text(0) : "";
    if (mode != "wal") {
      return Error(ErrorCode::storage_error, "cannot switch " + path_ + " to WAL journal mode (got '" + mode + "')");
    }
  }
  {
    auto st = options.synchronous == Synchronous::full ? prepare("PRAGMA synchronous = FULL")
                                                       : prepare("PRAGMA synchronous = NORMAL");
    if (!st) return st.take_error();
    if (auto r = st->run(); !r) return r;
  }
  return ok_status();
}

Result<Statement> Database::prepare(Sql sql) {
  auto it = cache_.find(sql.c_str());
  if (it != cache_.end() && !it->second.busy) {
    it->second.busy = true;
    return Statement(this, it->second.stmt, &it->second.busy);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK || stmt == nullptr) {
    sqlite3_finalize(stmt);
    return error_for(rc == SQLITE_OK ? SQLITE_MISUSE : rc, "prepare");
  }
  if (it != cache_.end()) return Statement(this, stmt, nullptr);  // cached one is in use: a private copy
  auto [pos, inserted] = cache_.emplace(sql.c_str(), Cached{stmt, true});
  return Statement(this, stmt, &pos->second.busy);
}

Status Database::run_script(Sql script) {
  const char* tail = script.c_str();
  while (tail && *tail) {
    sqlite3_stmt* stmt = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, -1, &stmt, &next);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return error_for(rc, "prepare script");
    }
    tail = next;
    if (stmt == nullptr) continue;  // whitespace or a comment
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return error_for(rc, "run script");
  }
  return ok_status();
}

Status Database::begin_group() {
  if (group_.open()) return Error(ErrorCode::storage_error, "a commit group is already open on " + path_);
  auto st = prepare("BEGIN IMMEDIATE");
  if (!st) return st.take_error();
  if (auto r = st->run(); !r) {
    Error e = r.take_error();
    return Error(std::move(e.code), "cannot begin a shared transaction: " + e.message);
  }
  group_.start();
  return ok_status();
}

bool Database::group_intact() const { return group_.open() && !group_.failed() && !sqlite3_get_autocommit(db_); }

Status Database::commit_group() {
  if (!group_.open()) return Error(ErrorCode::storage_error, "commit of a commit group that is not open");
  if (!group_intact()) {
    rollback_group();
    return Error(ErrorCode::storage_error, "the shared transaction was abandoned after an error inside it");
  }
  Status committed;
  {
    auto st = prepare("COMMIT");
    committed = st ? st->run() : Status(st.take_error());
  }
  if (!committed) {
    rollback_group();  // a failed COMMIT may leave the transaction open
    Error e = committed.take_error();
    return Error(std::move(e.code), "commit of the shared transaction failed: " + e.message);
  }
  std::vector<CommitGroup::Callback> callbacks = group_.close_committed();
  CommitGroup::run_all(callbacks);
  return ok_status();
}

void Database::rollback_group() {
  if (!group_.open()) return;
  if (!sqlite3_get_autocommit(db_)) {
    if (auto st = prepare("ROLLBACK"); st) (void)st->run();
  }
  group_.close_abandoned();
}

void Database::after_commit(std::function<void()> fn) {
  if (group_.open()) {
    group_.defer(std::move(fn));
    return;
  }
  fn();
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

Error Database::error_for(int rc, const char* what) const {
  int primary = rc & 0xff;
  ErrorCode code = ErrorCode::storage_error;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = ErrorCode::storage_busy;
  else if (primary == SQLITE_CONSTRAINT) code = ErrorCode::storage_constraint;
  else if (primary == SQLITE_FULL) code = ErrorCode::storage_full;
  else if (primary == SQLITE_READONLY) code = ErrorCode::storage_read_only;
  else if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN) code = ErrorCode::storage_io;
  else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) code = ErrorCode::storage_corrupt;
  std::string msg = std::string("database ") + what + " failed: " + sqlite3_errmsg(db_);
  return Error(code, std::move(msg));
}

Error Database::last_error(const char* what) const { return error_for(sqlite3_extended_errcode(db_), what); }

}  // namespace llmd::storage
