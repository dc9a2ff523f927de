#include "storage/statement.hpp"

#include <sqlite3.h>

#include <utility>

#include "storage/database.hpp"

namespace llmd::storage {

Statement::~Statement() { release(); }

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      busy_(std::exchange(other.busy_, nullptr)),
      bind_error_(other.bind_error_),
      done_(other.done_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    busy_ = std::exchange(other.busy_, nullptr);
    bind_error_ = other.bind_error_;
    done_ = other.done_;
  }
  return *this;
}

void Statement::release() {
  if (!stmt_) return;
  if (busy_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *busy_ = false;
    busy_ = nullptr;
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

void Statement::record_bind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

Statement& Statement::bind(int index, int64_t value) {
  record_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  record_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  record_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind(int index, std::optional<int64_t> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind(int index, std::optional<std::string_view> text) {
  return text ? bind(index, *text) : bind_null(index);
}

Statement& Statement::bind_blob(int index, std::span<const uint8_t> bytes) {
  record_bind(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_null(int index) {
  record_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_ != 0) return db_->error_for(bind_error_, "bind");
  if (done_) return false;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    done_ = true;
    return false;
  }
  // sqlite3_reset returns the same error; do it now so the statement is reusable.
  Error err = db_->error_for(rc, "step");
  sqlite3_reset(stmt_);
  done_ = true;
  return err;
}

Status Statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.take_error();
    if (!*r) return ok_status();
  }
}

int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::column_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::vector<uint8_t> Statement::column_blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (!p || n <= 0) return {};
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}

bool Statement::column_is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::optional<int64_t> Statement::column_opt_int(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_int(col);
}

std::optional<std::string> Statement::column_opt_text(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_text(col);
}

}  // namespace llmd::storage
