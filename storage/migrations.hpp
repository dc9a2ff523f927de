// Versioned schema migrations, tracked in SQLite's `user_version` header field.
//
// Migration N turns a version N-1 database into version N inside one IMMEDIATE
// transaction, so a crash mid-migration leaves the previous version intact and two
// processes starting together cannot both apply it. A database newer than this
// build is refused rather than touched.
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

// The schema version this build writes.
int latest_schema_version();

// The database's current `user_version`.
Result<int> schema_version(Database& db);

// Brings the database up to latest_schema_version().
Status migrate(Database& db);

// Database::open followed by migrate(); the usual way to get a connection.
Result<std::unique_ptr<Database>> open_database(const std::string& path, const DatabaseOptions& options = {});

}  // namespace llmd::storage
