// Statement: a prepared SQLite statement borrowed from a Database's cache.
//
// Values are bound by 1-based index; a failed bind is remembered and reported by
// the next step(). When the handle goes out of scope the statement is reset and its
// bindings cleared, ready for the next user of the same cached statement.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

struct sqlite3_stmt;

namespace llmd::storage {

class Database;

class Statement {
 public:
  Statement() = default;
  // `busy` is the cache's in-use flag (cleared on release); nullptr for a
  // statement owned by this handle, which is finalized on release.
  Statement(Database* db, sqlite3_stmt* stmt, bool* busy) : db_(db), stmt_(stmt), busy_(busy) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::optional<int64_t> value);
  Statement& bind(int index, std::optional<std::string_view> text);
  Statement& bind_blob(int index, std::span<const uint8_t> bytes);
  Statement& bind_null(int index);

  // Binds values to parameters 1..N in order.
  template <typename... Args>
  Statement& bind_all(const Args&... args) {
    int index = 0;
    (bind(++index, args), ...);
    return *this;
  }

  // Advances the statement: true when a row is available, false when done.
  Result<bool> step();
  // Steps until done (for INSERT/UPDATE/DELETE); rows, if any, are skipped.
  Status run();
  // Steps through every row, calling on_row() for each (it reads the row's
  // columns from this statement); the first failed step ends it with its error.
  template <typename OnRow>
  Status each_row(OnRow&& on_row) {
    for (;;) {
      Result<bool> row = step();
      if (!row) return row.take_error();
      if (!*row) return ok_status();
      on_row();
    }
  }

  int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::vector<uint8_t> column_blob(int col) const;
  bool column_is_null(int col) const;
  std::optional<int64_t> column_opt_int(int col) const;
  std::optional<std::string> column_opt_text(int col) const;

 private:
  void record_bind(int rc);
  void release();

  Database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  bool* busy_ = nullptr;
  int bind_error_ = 0;
  bool done_ = false;
};

}  // namespace llmd::storage
