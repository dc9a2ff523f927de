// Schema version 3: an API key's scheduling class. A key used by a nightly
// batch job can be made "batch", so its requests fill capacity that
// interactive work leaves idle without the job having to say so per request.
#pragma once

#include "storage/sql.hpp"

namespace llmd::storage {

inline constexpr Sql kSchemaV3 = R"sql(
ALTER TABLE api_keys ADD COLUMN priority TEXT NOT NULL DEFAULT 'interactive'
  CHECK (priority IN ('interactive', 'batch'));
PRAGMA user_version = 3;
)sql";

}  // namespace llmd::storage
