// Schema version 1: teams, API keys, the usage ledger with per-period budget
// counters, and the audit log. Times are integer milliseconds since the Unix epoch
// (UTC); token counts are integers; NULL limits mean "no limit".
#pragma once

#include "storage/sql.hpp"

namespace llmd::storage {

inline constexpr Sql kSchemaV1 = R"sql(
CREATE TABLE teams (
  id                   INTEGER PRIMARY KEY,
  name                 TEXT    NOT NULL,
  weight               REAL    NOT NULL DEFAULT 1 CHECK (weight > 0),
  rpm_limit            INTEGER CHECK (rpm_limit IS NULL OR rpm_limit > 0),
  tpm_limit            INTEGER CHECK (tpm_limit IS NULL OR tpm_limit > 0),
  daily_token_budget   INTEGER CHECK (daily_token_budget IS NULL OR daily_token_budget >= 0),
  monthly_token_budget INTEGER CHECK (monthly_token_budget IS NULL OR monthly_token_budget >= 0),
  max_concurrent       INTEGER CHECK (max_concurrent IS NULL OR max_concurrent > 0),
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  deleted_at           INTEGER
);
-- Deleted teams keep their rows (usage history refers to them); live names are unique.
CREATE UNIQUE INDEX teams_live_name ON teams(name) WHERE deleted_at IS NULL;

-- Models a team may use; a team without rows here may use every model.
CREATE TABLE team_models (
  team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  model   TEXT    NOT NULL,
  PRIMARY KEY (team_id, model)
) WITHOUT ROWID;

CREATE TABLE api_keys (
  id            INTEGER PRIMARY KEY,
  key_id        TEXT    NOT NULL UNIQUE,          -- public part of the key
  team_id       INTEGER NOT NULL REFERENCES teams(id),
  name          TEXT    NOT NULL,
  role          TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
  secret_sha256 BLOB    NOT NULL CHECK (length(secret_sha256) = 32),
  rpm_limit     INTEGER CHECK (rpm_limit IS NULL OR rpm_limit > 0),
  tpm_limit     INTEGER CHECK (tpm_limit IS NULL OR tpm_limit > 0),
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER,
  revoked_at    INTEGER,
  last_used_at  INTEGER
);
CREATE INDEX api_keys_team ON api_keys(team_id);

-- One row per admitted request: written 'open' at admission, settled at the end.
CREATE TABLE usage (
  id                INTEGER PRIMARY KEY,
  request_id        TEXT,
  api_key_id        INTEGER NOT NULL REFERENCES api_keys(id),
  team_id           INTEGER NOT NULL REFERENCES teams(id),
  model             TEXT    NOT NULL,
  day               TEXT    NOT NULL,            -- UTC date of admitted_at, YYYY-MM-DD
  admitted_at       INTEGER NOT NULL,
  finished_at       INTEGER,
  status            TEXT    NOT NULL
                    CHECK (status IN ('open', 'ok', 'error', 'cancelled', 'interrupted')),
  prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
  completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
  cached_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
  queue_wait_ms     INTEGER,
  reserved_tokens   INTEGER NOT NULL CHECK (reserved_tokens >= 0),  -- held against budgets while open
  charged_tokens    INTEGER NOT NULL DEFAULT 0 CHECK (charged_tokens >= 0)
);
CREATE INDEX usage_open ON usage(id) WHERE status = 'open';
CREATE INDEX usage_day ON usage(day, team_id);

-- Budget counters per team and period ('YYYY-MM-DD' for a day, 'YYYY-MM' for a
-- month): tokens reserved by open requests and tokens charged by settled ones.
-- Always equal to the sums over `usage` (checked by the ledger's consistency check).
CREATE TABLE budget_usage (
  team_id         INTEGER NOT NULL REFERENCES teams(id),
  period          TEXT    NOT NULL,
  reserved_tokens INTEGER NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0),
  used_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (used_tokens >= 0),
  PRIMARY KEY (team_id, period)
) WITHOUT ROWID;

CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL,
  target TEXT    NOT NULL,
  detail TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);

PRAGMA user_version = 1;
)sql";

}  // namespace llmd::storage
