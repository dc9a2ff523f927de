// Schema version 2: the models added over the admin API, with their desired
// state, so that they come back after a restart. Models from the config file
// are never stored here. Times are integer milliseconds since the Unix epoch.
#pragma once

#include "storage/sql.hpp"

namespace llmd::storage {

inline constexpr Sql kSchemaV2 = R"sql(
-- `seq` orders the rows by when they were first added; replacing a model's row
-- keeps its seq. Counts and sizes are unsigned 32-bit (64-bit for bytes) in the
-- catalog, so the CHECKs keep every stored value representable there.
CREATE TABLE models (
  seq                INTEGER PRIMARY KEY,
  id                 TEXT    NOT NULL UNIQUE CHECK (length(id) > 0),
  path               TEXT    NOT NULL,
  device             TEXT    NOT NULL DEFAULT 'auto',
  pinned             INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
  keep_alive_s       INTEGER NOT NULL DEFAULT 0 CHECK (keep_alive_s BETWEEN 0 AND 4294967295),
  context_length     INTEGER NOT NULL DEFAULT 0 CHECK (context_length BETWEEN 0 AND 4294967295),
  max_sequences      INTEGER NOT NULL CHECK (max_sequences BETWEEN 0 AND 4294967295),
  max_choices        INTEGER NOT NULL CHECK (max_choices BETWEEN 0 AND 4294967295),
  max_waiting        INTEGER NOT NULL CHECK (max_waiting BETWEEN 0 AND 4294967295),
  kv_cache_bytes     INTEGER NOT NULL DEFAULT 0 CHECK (kv_cache_bytes >= 0),
  chat_template_name TEXT    NOT NULL DEFAULT '',
  chat_template      TEXT    NOT NULL DEFAULT '',     -- path of a Jinja file; '' = none
  threads            INTEGER NOT NULL DEFAULT 0 CHECK (threads BETWEEN 0 AND 4294967295),
  load               INTEGER NOT NULL DEFAULT 1 CHECK (load IN (0, 1)),  -- desired state: 1 loaded
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
);

-- Further ids of a model, in the order they were given.
CREATE TABLE model_aliases (
  model_id TEXT    NOT NULL REFERENCES models(id) ON DELETE CASCADE ON UPDATE CASCADE,
  position INTEGER NOT NULL CHECK (position >= 0),
  alias    TEXT    NOT NULL,
  PRIMARY KEY (model_id, position)
) WITHOUT ROWID;

PRAGMA user_version = 2;
)sql";

}  // namespace llmd::storage
