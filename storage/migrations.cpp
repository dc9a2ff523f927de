#include "storage/migrations.hpp"

#include <iterator>

#include "storage/integrity.hpp"
#include "storage/schema_v1.hpp"
#include "storage/schema_v2.hpp"
#include "storage/schema_v3.hpp"
#include "storage/schema_v4.hpp"
#include "storage/transaction.hpp"

namespace llmd::storage {
namespace {

struct Migration {
  int version;
  Sql script;  // ends with `PRAGMA user_version = <version>`
};

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
};

}  // namespace

int latest_schema_version() { return std::end(kMigrations)[-1].version; }

Result<int> schema_version(Database& db) {
  auto st = db.prepare("PRAGMA user_version");
  if (!st) return st.take_error();
  auto row = st->step();
  if (!row) return row.take_error();
  return *row ? static_cast<int>(st->column_int(0)) : 0;
}

Status migrate(Database& db) {
  for (const Migration& m : kMigrations) {
    auto tx = Transaction::begin(db, Transaction::Mode::immediate);
    if (!tx) return tx.take_error();
    // Read the version under the write lock: another process may have migrated.
    auto current = schema_version(db);
    if (!current) return current.take_error();
    if (*current > latest_schema_version()) {
      return Error(ErrorCode::storage_schema_too_new,
                   "database " + db.path() + " has schema version " + std::to_string(*current) +
                       ", newer than this llmd understands (" + std::to_string(latest_schema_version()) +
                       "); refusing to use it");
    }
    if (*current >= m.version) continue;
    if (*current != m.version - 1) {
      return Error(ErrorCode::storage_error, "database schema version " + std::to_string(*current) +
                                        " has no migration path to " + std::to_string(m.version));
    }
    if (auto r = db.run_script(m.script); !r) return r;
    auto after = schema_version(db);
    if (!after) return after.take_error();
    if (*after != m.version) {
      return Error(ErrorCode::storage_error, "migration to schema version " + std::to_string(m.version) +
                                        " did not set user_version");
    }
    if (auto r = tx->commit(); !r) return r;
  }
  return ok_status();
}

Result<std::unique_ptr<Database>> open_database(const std::string& path, const DatabaseOptions& options) {
  auto db = Database::open(path, options);
  if (!db) return db;
  if (auto r = migrate(**db); !r) return explain_damage(r.take_error(), path);
  return db;
}

}  // namespace llmd::storage
