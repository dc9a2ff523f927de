// Usage reports for admins: token and request totals grouped by UTC day, team,
// key and model, filtered by any of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

struct UsageQuery {
  std::optional<std::string> team;     // team name
  std::optional<std::string> key_id;   // public key id
  std::optional<std::string> model;
  std::optional<std::string> from_day; // "YYYY-MM-DD", inclusive
  std::optional<std::string> to_day;   // inclusive
  int64_t limit = 10000;               // rows, 1..100000
};

struct UsageSummary {
  std::string day;
  std::string team;
  std::string key_id;
  std::string key_name;
  std::string model;
  int64_t requests = 0;
  int64_t ok = 0;
  int64_t errors = 0;
  int64_t cancelled = 0;
  int64_t interrupted = 0;
  int64_t open = 0;                  // still running
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t charged_tokens = 0;
  int64_t queue_wait_ms_total = 0;
};

// Errors: usage_invalid (a malformed day).
Result<std::vector<UsageSummary>> summarize_usage(Database& db, const UsageQuery& query);

}  // namespace llmd::storage
