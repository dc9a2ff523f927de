// Schema version 4: the usage report's rollup. /admin/v1/usage groups the
// ledger by day, team, key and model; summed over `usage` itself that costs
// time in proportion to the whole ledger, which only grows, on every call (and
// the console polls it). `usage_daily` holds those sums, kept equal to them by
// triggers on every write to `usage` (admission, progress, settlement, crash
// recovery), so a report reads one row per group. The ledger's consistency
// check compares the two.
#pragma once

#include "storage/sql.hpp"

namespace llmd::storage {

// The row NEW added to its group, and the row OLD taken out of its group
// (a group left with no request goes).
#define LLMD_USAGE_DAILY_ADD_NEW \
  "INSERT INTO usage_daily VALUES (NEW.day, NEW.team_id, NEW.api_key_id, NEW.model, 1, NEW.status = 'ok', " \
  "NEW.status = 'error', NEW.status = 'cancelled', NEW.status = 'interrupted', NEW.status = 'open', " \
  "NEW.prompt_tokens, NEW.completion_tokens, NEW.cached_tokens, NEW.charged_tokens, coalesce(NEW.queue_wait_ms, 0)) " \
  "ON CONFLICT (day, team_id, api_key_id, model) DO UPDATE SET " \
  "requests = requests + 1, ok = ok + excluded.ok, errors = errors + excluded.errors, " \
  "cancelled = cancelled + excluded.cancelled, interrupted = interrupted + excluded.interrupted, " \
  "open = open + excluded.open, prompt_tokens = prompt_tokens + excluded.prompt_tokens, " \
  "completion_tokens = completion_tokens + excluded.completion_tokens, " \
  "cached_tokens = cached_tokens + excluded.cached_tokens, charged_tokens = charged_tokens + excluded.charged_tokens, " \
  "queue_wait_ms = queue_wait_ms + excluded.queue_wait_ms; "

#define LLMD_USAGE_DAILY_REMOVE_OLD \
  "UPDATE usage_daily SET " \
  "requests = requests - 1, ok = ok - (OLD.status = 'ok'), errors = errors - (OLD.status = 'error'), " \
  "cancelled = cancelled - (OLD.status = 'cancelled'), interrupted = interrupted - (OLD.status = 'interrupted'), " \
  "open = open - (OLD.status = 'open'), prompt_tokens = prompt_tokens - OLD.prompt_tokens, " \
  "completion_tokens = completion_tokens - OLD.completion_tokens, cached_tokens = cached_tokens - OLD.cached_tokens, " \
  "charged_tokens = charged_tokens - OLD.charged_tokens, queue_wait_ms = queue_wait_ms - coalesce(OLD.queue_wait_ms, 0) " \
  "WHERE day = OLD.day AND team_id = OLD.team_id AND api_key_id = OLD.api_key_id AND model = OLD.model; " \
  "DELETE FROM usage_daily WHERE requests = 0 AND day = OLD.day AND team_id = OLD.team_id " \
  "AND api_key_id = OLD.api_key_id AND model = OLD.model; "

inline constexpr Sql kSchemaV4 = R"sql(
CREATE TABLE usage_daily (
  day               TEXT    NOT NULL,
  team_id           INTEGER NOT NULL,
  api_key_id        INTEGER NOT NULL,
  model             TEXT    NOT NULL,
  requests          INTEGER NOT NULL DEFAULT 0,
  ok                INTEGER NOT NULL DEFAULT 0,
  errors            INTEGER NOT NULL DEFAULT 0,
  cancelled         INTEGER NOT NULL DEFAULT 0,
  interrupted       INTEGER NOT NULL DEFAULT 0,
  open              INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  charged_tokens    INTEGER NOT NULL DEFAULT 0,
  queue_wait_ms     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, team_id, api_key_id, model)
) WITHOUT ROWID;

INSERT INTO usage_daily
  SELECT day, team_id, api_key_id, model, count(*), sum(status = 'ok'), sum(status = 'error'),
         sum(status = 'cancelled'), sum(status = 'interrupted'), sum(status = 'open'), sum(prompt_tokens),
         sum(completion_tokens), sum(cached_tokens), sum(charged_tokens), coalesce(sum(queue_wait_ms), 0)
  FROM usage GROUP BY day, team_id, api_key_id, model;
)sql"
  "CREATE TRIGGER usage_daily_add AFTER INSERT ON usage BEGIN " LLMD_USAGE_DAILY_ADD_NEW " END;\n"
  // An update takes the old row out of its group and puts the new one in.
  "CREATE TRIGGER usage_daily_change AFTER UPDATE ON usage BEGIN " LLMD_USAGE_DAILY_REMOVE_OLD
  LLMD_USAGE_DAILY_ADD_NEW " END;\n"
  "CREATE TRIGGER usage_daily_remove AFTER DELETE ON usage BEGIN " LLMD_USAGE_DAILY_REMOVE_OLD " END;\n"
  "PRAGMA user_version = 4;\n";

#undef LLMD_USAGE_DAILY_ADD_NEW
#undef LLMD_USAGE_DAILY_REMOVE_OLD

}  // namespace llmd::storage
