// Teams: who shares the box, with their fair-share weight, rate limits, token
// budgets, concurrency cap and the models they may use.
//
// Functions take the connection to run on; callers own transactions where several
// steps must be atomic (the audit row of an admin action, for example).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

struct TeamLimits {
  double weight = 1.0;                         // fair-share weight, > 0
  std::optional<int64_t> rpm_limit;            // requests per minute
  std::optional<int64_t> tpm_limit;            // tokens per minute
  std::optional<int64_t> daily_token_budget;   // prompt + completion tokens per UTC day
  std::optional<int64_t> monthly_token_budget; // ... per UTC month
  std::optional<int64_t> max_concurrent;       // requests in flight at once
  std::vector<std::string> allowed_models;     // empty: every model
};

struct TeamRecord {
  int64_t id = 0;
  std::string name;
  TeamLimits limits;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// Team names: 1-64 characters of [A-Za-z0-9._-].
bool valid_team_name(std::string_view name);
// Checks ranges (weight > 0 and finite, limits > 0, budgets >= 0, model names).
Status validate_team_limits(const TeamLimits& limits);

// Errors: team_invalid, team_exists.
Result<TeamRecord> create_team(Database& db, std::string_view name, const TeamLimits& limits, int64_t now_ms);
Result<std::optional<TeamRecord>> find_team(Database& db, std::string_view name);
Result<std::optional<TeamRecord>> find_team_by_id(Database& db, int64_t id);
Result<std::vector<TeamRecord>> list_teams(Database& db);
// Replaces the limits of a live team. Errors: team_invalid, team_not_found.
Status update_team(Database& db, int64_t team_id, const TeamLimits& limits, int64_t now_ms);
// Marks a live team deleted and revokes its keys; usage history keeps it.
// Errors: team_not_found.
Status delete_team(Database& db, int64_t team_id, int64_t now_ms);

}  // namespace llmd::storage
