// The usage ledger: one `usage` row per admitted request and the per-team budget
// counters, kept consistent with each other by doing every change in one
// IMMEDIATE transaction.
//
//   reserve_usage   at admission: checks the team's daily and monthly token budgets
//                   against used + reserved + this request's reservation (prompt
//                   tokens + max tokens), and if it fits writes the row 'open' and
//                   adds the reservation to the day's and the month's counters.
//   settle_usage    at the end: records the real token counts and status, moves
//                   the row's reservation out of the counters and its charge
//                   (prompt + completion tokens) into them. Settling twice is a no-op.
//   record_usage_progress
//                   while it runs: the completion tokens produced so far, so a
//                   crash loses at most the tokens since the last checkpoint.
//   close_interrupted_usage
//                   at start-up: rows still open were cut off by a crash; they are
//                   settled as 'interrupted' (charging what they recorded) so no
//                   reservation outlives the process that made it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

enum class UsageStatus { open, ok, error, cancelled, interrupted };
std::string_view to_string(UsageStatus status);

struct ReserveRequest {
  int64_t team_id = 0;
  int64_t key_row = 0;          // api_keys.id
  std::string model;
  std::string request_id;
  int64_t prompt_tokens = 0;
  int64_t reserve_tokens = 0;   // prompt tokens + the most the request may generate
  int64_t now_ms = 0;
};

struct BudgetState {
  std::string period;              // "YYYY-MM-DD" or "YYYY-MM"
  std::optional<int64_t> budget;   // none: unlimited
  int64_t used = 0;                // charged by settled requests
  int64_t reserved = 0;            // held by open requests
  int64_t ends_at_ms = 0;          // when the period (and its budget) renews
  std::optional<int64_t> remaining() const;
};

enum class ReserveOutcome { reserved, daily_budget_exhausted, monthly_budget_exhausted, team_not_found };

struct ReserveResult {
  ReserveOutcome outcome = ReserveOutcome::team_not_found;
  int64_t usage_id = 0;   // when reserved
  BudgetState day;        // counters after the reservation (or as found, when refused)
  BudgetState month;
};

Result<ReserveResult> reserve_usage(Database& db, const ReserveRequest& request);

struct Settlement {
  int64_t usage_id = 0;
  UsageStatus status = UsageStatus::ok;  // not `open`
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  std::optional<int64_t> queue_wait_ms;
  int64_t now_ms = 0;
};

struct SettleResult {
  bool settled = false;        // false: the row was not open (already settled or unknown)
  int64_t charged_tokens = 0;
  int64_t released_tokens = 0; // the reservation taken out of the counters
};

Result<SettleResult> settle_usage(Database& db, const Settlement& settlement);

// Raises an open row's completion_tokens to `completion_tokens` (never lowers
// it; a settled row is left alone).
Status record_usage_progress(Database& db, int64_t usage_id, int64_t completion_tokens);

struct RecoveryReport {
  int64_t rows_closed = 0;
  int64_t tokens_released = 0;
};

Result<RecoveryReport> close_interrupted_usage(Database& db, int64_t now_ms);

// The budget counters of a team for the periods containing `now_ms` (call it
// inside a transaction for one consistent snapshot).
struct TeamBudgetStatus {
  BudgetState day;
  BudgetState month;
};
Result<TeamBudgetStatus> team_budget_status(Database& db, int64_t team_id, int64_t now_ms);

// Compares every budget counter with the sums over `usage` and checks each row's
// bookkeeping; `problems` is empty when the ledger is consistent.
struct LedgerCheck {
  int64_t open_rows = 0;
  std::vector<std::string> problems;
  bool consistent() const { return problems.empty(); }
};
Result<LedgerCheck> check_ledger(Database& db);

// Recomputes every budget counter from `usage` (repair after an inconsistency).
Status rebuild_budget_counters(Database& db);

}  // namespace llmd::storage
