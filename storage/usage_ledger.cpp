#include "storage/usage_ledger.hpp"

#include "storage/calendar.hpp"
#include "storage/transaction.hpp"

namespace llmd::storage {
namespace {

Status read_counter(Database& db, int64_t team_id, BudgetState* state) {
  auto st = db.prepare("SELECT reserved_tokens, used_tokens FROM budget_usage WHERE team_id = ?1 AND period = ?2");
  if (!st) return st.take_error();
  st->bind_all(team_id, state->period);
  auto row = st->step();
  if (!row) return row.take_error();
  state->reserved = *row ? st->column_int(0) : 0;
  state->used = *row ? st->column_int(1) : 0;
  return ok_status();
}

// Adds a reservation to one counter row, creating the row when needed.
Status reserve_in_counter(Database& db, int64_t team_id, const std::string& period, int64_t tokens) {
  auto st = db.prepare(
      "INSERT INTO budget_usage (team_id, period, reserved_tokens, used_tokens) VALUES (?1, ?2, ?3, 0)"
      " ON CONFLICT (team_id, period) DO UPDATE SET reserved_tokens = reserved_tokens + excluded.reserved_tokens");
  if (!st) return st.take_error();
  return st->bind_all(team_id, period, tokens).run();
}

// Moves a settled request from reserved to used in one counter row, which its
// reservation created.
Status settle_in_counter(Database& db, int64_t team_id, const std::string& period, int64_t reserved,
                         int64_t charged) {
  auto st = db.prepare(
      "UPDATE budget_usage SET reserved_tokens = reserved_tokens - ?3, used_tokens = used_tokens + ?4"
      " WHERE team_id = ?1 AND period = ?2");
  if (!st) return st.take_error();
  if (auto r = st->bind_all(team_id, period, reserved, charged).run(); !r) return r;
  if (db.changes() != 1) {
    return Error(ErrorCode::storage_error, "budget counter for period " + period + " is missing");
  }
  return ok_status();
}

bool fits(const BudgetState& b, int64_t tokens) {
  return !b.budget || b.used + b.reserved + tokens <= *b.budget;
}

struct OpenRow {
  int64_t id = 0;
  int64_t team_id = 0;
  int64_t admitted_at = 0;
  int64_t reserved = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Closes one open row inside the caller's transaction.
Status close_row(Database& db, const OpenRow& row, const Settlement& s, SettleResult* out) {
  int64_t charged = s.prompt_tokens + s.completion_tokens;
  auto up = db.prepare(
      "UPDATE usage SET status = ?2, finished_at = ?3, prompt_tokens = ?4, completion_tokens = ?5,"
      " cached_tokens = ?6, queue_wait_ms = coalesce(?7, queue_wait_ms), charged_tokens = ?8"
      " WHERE id = ?1 AND status = 'open'");
  if (!up) return up.take_error();
  up->bind_all(row.id, to_string(s.status), s.now_ms, s.prompt_tokens, s.completion_tokens, s.cached_tokens);
  up->bind(7, s.queue_wait_ms).bind(8, charged);
  if (auto r = up->run(); !r) return r;
  Periods p = periods_at(row.admitted_at);
  if (auto r = settle_in_counter(db, row.team_id, p.day, row.reserved, charged); !r) return r;
  if (auto r = settle_in_counter(db, row.team_id, p.month, row.reserved, charged); !r) return r;
  out->settled = true;
  out->charged_tokens = charged;
  out->released_tokens = row.reserved;
  return ok_status();
}

Status validate_settlement(const Settlement& s) {
  if (s.status == UsageStatus::open) return Error(ErrorCode::usage_invalid, "a settlement needs a final status");
  if (s.prompt_tokens < 0 || s.completion_tokens < 0 || s.cached_tokens < 0 ||
      (s.queue_wait_ms && *s.queue_wait_ms < 0)) {
    return Error(ErrorCode::usage_invalid, "token counts and queue wait must be non-negative");
  }
  return ok_status();
}

}  // namespace

std::string_view to_string(UsageStatus status) {
  switch (status) {
    case UsageStatus::open: return "open";
    case UsageStatus::ok: return "ok";
    case UsageStatus::error: return "error";
    case UsageStatus::cancelled: return "cancelled";
    case UsageStatus::interrupted: return "interrupted";
  }
  return "error";
}

std::optional<int64_t> BudgetState::remaining() const {
  if (!budget) return std::nullopt;
  int64_t left = *budget - used - reserved;
  return left > 0 ? left : 0;
}

Result<ReserveResult> reserve_usage(Database& db, const ReserveRequest& req) {
  if (req.prompt_tokens < 0 || req.reserve_tokens < req.prompt_tokens) {
    return Error(ErrorCode::usage_invalid, "a reservation covers at least the prompt tokens");
  }
  auto tx = Transaction::begin(db, Transaction::Mode::immediate);
  if (!tx) return tx.take_error();

  ReserveResult result;
  Periods p = periods_at(req.now_ms);
  result.day.period = p.day;
  result.day.ends_at_ms = p.day_end_ms;
  result.month.period = p.month;
  result.month.ends_at_ms = p.month_end_ms;
  {
    auto st = db.prepare(
        "SELECT daily_token_budget, monthly_token_budget FROM teams WHERE id = ?1 AND deleted_at IS NULL");
    if (!st) return st.take_error();
    st->bind(1, req.team_id);
    auto row = st->step();
    if (!row) return row.take_error();
    if (!*row) return result;  // team_not_found; the transaction rolls back
    result.day.budget = st->column_opt_int(0);
    result.month.budget = st->column_opt_int(1);
  }
  if (auto r = read_counter(db, req.team_id, &result.day); !r) return r.take_error();
  if (auto r = read_counter(db, req.team_id, &result.month); !r) return r.take_error();
  if (!fits(result.day, req.reserve_tokens)) {
    result.outcome = ReserveOutcome::daily_budget_exhausted;
    return result;
  }
  if (!fits(result.month, req.reserve_tokens)) {
    result.outcome = ReserveOutcome::monthly_budget_exhausted;
    return result;
  }

  auto ins = db.prepare(
      "INSERT INTO usage (request_id, api_key_id, team_id, model, day, admitted_at, status, prompt_tokens,"
      " reserved_tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8)");
  if (!ins) return ins.take_error();
  ins->bind_all(req.request_id, req.key_row, req.team_id, req.model, p.day, req.now_ms, req.prompt_tokens,
                req.reserve_tokens);
  if (auto r = ins->run(); !r) return r.take_error();
  result.usage_id = db.last_insert_rowid();
  if (auto r = reserve_in_counter(db, req.team_id, p.day, req.reserve_tokens); !r) return r.take_error();
  if (auto r = reserve_in_counter(db, req.team_id, p.month, req.reserve_tokens); !r) return r.take_error();
  if (auto r = tx->commit(); !r) return r.take_error();
  result.day.reserved += req.reserve_tokens;
  result.month.reserved += req.reserve_tokens;
  result.outcome = ReserveOutcome::reserved;
  return result;
}

Result<SettleResult> settle_usage(Database& db, const Settlement& s) {
  if (auto r = validate_settlement(s); !r) return r.take_error();
  auto tx = Transaction::begin(db, Transaction::Mode::immediate);
  if (!tx) return tx.take_error();
  SettleResult result;
  OpenRow row;
  {
    auto st = db.prepare("SELECT team_id, admitted_at, reserved_tokens FROM usage WHERE id = ?1 AND status = 'open'");
    if (!st) return st.take_error();
    st->bind(1, s.usage_id);
    auto found = st->step();
    if (!found) return found.take_error();
    if (!*found) return result;  // already settled (or recovered): nothing to do
    row.id = s.usage_id;
    row.team_id = st->column_int(0);
    row.admitted_at = st->column_int(1);
    row.reserved = st->column_int(2);
  }
  if (auto r = close_row(db, row, s, &result); !r) return r.take_error();
  if (auto r = tx->commit(); !r) return r.take_error();
  return result;
}

Status record_usage_progress(Database& db, int64_t usage_id, int64_t completion_tokens) {
  if (completion_tokens < 0) return Error(ErrorCode::usage_invalid, "completion tokens must not be negative");
  auto tx = Transaction::begin(db, Transaction::Mode::immediate);
  if (!tx) return tx.take_error();
  {
    auto st = db.prepare(
        "UPDATE usage SET completion_tokens = ?2 WHERE id = ?1 AND status = 'open' AND completion_tokens < ?2");
    if (!st) return st.take_error();
    st->bind(1, usage_id);
    st->bind(2, completion_tokens);
    if (auto r = st->run(); !r) return r;
  }
  return tx->commit();
}

Result<RecoveryReport> close_interrupted_usage(Database& db, int64_t now_ms) {
  auto tx = Transaction::begin(db, Transaction::Mode::immediate);
  if (!tx) return tx.take_error();
  std::vector<OpenRow> rows;
  {
    auto st = db.prepare(
        "SELECT id, team_id, admitted_at, reserved_tokens, prompt_tokens, completion_tokens"
        " FROM usage WHERE status = 'open' ORDER BY id");
    if (!st) return st.take_error();
    for (;;) {
      auto found = st->step();
      if (!found) return found.take_error();
      if (!*found) break;
      rows.push_back(OpenRow{st->column_int(0), st->column_int(1), st->column_int(2), st->column_int(3),
                             st->column_int(4), st->column_int(5)});
    }
  }
  RecoveryReport report;
  for (const OpenRow& row : rows) {
    Settlement s;
    s.usage_id = row.id;
    s.status = UsageStatus::interrupted;
    s.prompt_tokens = row.prompt_tokens;
    s.completion_tokens = row.completion_tokens;
    s.now_ms = now_ms;
    SettleResult one;
    if (auto r = close_row(db, row, s, &one); !r) return r.take_error();
    report.rows_closed += 1;
    report.tokens_released += one.released_tokens;
  }
  if (auto r = tx->commit(); !r) return r.take_error();
  return report;
}

Result<TeamBudgetStatus> team_budget_status(Database& db, int64_t team_id, int64_t now_ms) {
  TeamBudgetStatus status;
  Periods p = periods_at(now_ms);
  status.day.period = p.day;
  status.day.ends_at_ms = p.day_end_ms;
  status.month.period = p.month;
  status.month.ends_at_ms = p.month_end_ms;
  {
    auto st = db.prepare("SELECT daily_token_budget, monthly_token_budget FROM teams WHERE id = ?1");
    if (!st) return st.take_error();
    st->bind(1, team_id);
    auto row = st->step();
    if (!row) return row.take_error();
    if (!*row) return Error(ErrorCode::team_not_found, "no such team");
    status.day.budget = st->column_opt_int(0);
    status.month.budget = st->column_opt_int(1);
  }
  if (auto r = read_counter(db, team_id, &status.day); !r) return r.take_error();
  if (auto r = read_counter(db, team_id, &status.month); !r) return r.take_error();
  return status;
}

// Expected counters, per team and period, from the usage rows.
#define LLMD_EXPECTED_COUNTERS                                                                    \
  "WITH expected(team_id, period, reserved, used) AS ("                                        \
  " SELECT team_id, day, sum(CASE WHEN status = 'open' THEN reserved_tokens ELSE 0 END),"      \
  "  sum(CASE WHEN status = 'open' THEN 0 ELSE charged_tokens END) FROM usage GROUP BY team_id, day" \
  " UNION ALL"                                                                                 \
  " SELECT team_id, substr(day, 1, 7), sum(CASE WHEN status = 'open' THEN reserved_tokens ELSE 0 END)," \
  "  sum(CASE WHEN status = 'open' THEN 0 ELSE charged_tokens END) FROM usage"                 \
  "  GROUP BY team_id, substr(day, 1, 7))"

Result<LedgerCheck> check_ledger(Database& db) {
  auto tx = Transaction::begin(db, Transaction::Mode::deferred);
  if (!tx) return tx.take_error();
  LedgerCheck check;
  {
    auto st = db.prepare("SELECT count(*) FROM usage WHERE status = 'open'");
    if (!st) return st.take_error();
    auto row = st->step();
    if (!row) return row.take_error();
    check.open_rows = *row ? st->column_int(0) : 0;
  }
  {
    auto st = db.prepare(LLMD_EXPECTED_COUNTERS
                         " SELECT coalesce(e.team_id, b.team_id), coalesce(e.period, b.period),"
                         "  coalesce(e.reserved, 0), coalesce(e.used, 0),"
                         "  coalesce(b.reserved_tokens, 0), coalesce(b.used_tokens, 0)"
                         " FROM expected e FULL OUTER JOIN budget_usage b"
                         "  ON b.team_id = e.team_id AND b.period = e.period"
                         " WHERE coalesce(e.reserved, 0) != coalesce(b.reserved_tokens, 0)"
                         "  OR coalesce(e.used, 0) != coalesce(b.used_tokens, 0)");
    if (!st) return st.take_error();
    LLMD_TRY(st->each_row([&] {
      check.problems.push_back("team " + std::to_string(st->column_int(0)) + " period " + st->column_text(1) +
                               ": counters reserved=" + std::to_string(st->column_int(4)) +
                               " used=" + std::to_string(st->column_int(5)) + ", usage rows say reserved=" +
                               std::to_string(st->column_int(2)) + " used=" + std::to_string(st->column_int(3)));
    }));
  }
  {
    // The report's rollup (schema v4) against the rows it sums.
    auto st = db.prepare(
        "WITH expected AS (SELECT day, team_id, api_key_id, model, count(*) AS requests,"
        "  sum(status = 'ok') AS ok, sum(status = 'error') AS errors, sum(status = 'cancelled') AS cancelled,"
        "  sum(status = 'interrupted') AS interrupted, sum(status = 'open') AS open,"
        "  sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,"
        "  sum(cached_tokens) AS cached_tokens, sum(charged_tokens) AS charged_tokens,"
        "  coalesce(sum(queue_wait_ms), 0) AS queue_wait_ms"
        "  FROM usage GROUP BY day, team_id, api_key_id, model)"
        " SELECT coalesce(e.day, d.day), coalesce(e.team_id, d.team_id), coalesce(e.model, d.model),"
        "  coalesce(e.requests, 0), coalesce(d.requests, 0)"
        " FROM expected e FULL OUTER JOIN usage_daily d ON d.day = e.day AND d.team_id = e.team_id"
        "  AND d.api_key_id = e.api_key_id AND d.model = e.model"
        " WHERE e.day IS NULL OR d.day IS NULL OR e.requests != d.requests OR e.ok != d.ok OR e.errors != d.errors"
        "  OR e.cancelled != d.cancelled OR e.interrupted != d.interrupted OR e.open != d.open"
        "  OR e.prompt_tokens != d.prompt_tokens OR e.completion_tokens != d.completion_tokens"
        "  OR e.cached_tokens != d.cached_tokens OR e.charged_tokens != d.charged_tokens"
        "  OR e.queue_wait_ms != d.queue_wait_ms LIMIT 100");
    if (!st) return st.take_error();
    LLMD_TRY(st->each_row([&] {
      check.problems.push_back("usage report rollup for day " + st->column_text(0) + " team " +
                               std::to_string(st->column_int(1)) + " model " + st->column_text(2) +
                               " differs from the usage rows (" + std::to_string(st->column_int(4)) + " requests, rows say " +
                               std::to_string(st->column_int(3)) + ")");
    }));
  }
  {
    auto st = db.prepare(
        "SELECT id, status FROM usage WHERE"
        " (status = 'open' AND (finished_at IS NOT NULL OR charged_tokens != 0)) OR"
        " (status != 'open' AND (finished_at IS NULL OR charged_tokens != prompt_tokens + completion_tokens))"
        " LIMIT 100");
    if (!st) return st.take_error();
    LLMD_TRY(st->each_row([&] {
      check.problems.push_back("usage row " + std::to_string(st->column_int(0)) + " (" + st->column_text(1) +
                               ") has inconsistent bookkeeping");
    }));
  }
  return check;
}

Status rebuild_budget_counters(Database& db) {
  auto tx = Transaction::begin(db, Transaction::Mode::immediate);
  if (!tx) return tx.take_error();
  auto del = db.prepare("DELETE FROM budget_usage");
  if (!del) return del.take_error();
  if (auto r = del->run(); !r) return r;
  auto ins = db.prepare(LLMD_EXPECTED_COUNTERS
                        " INSERT INTO budget_usage (team_id, period, reserved_tokens, used_tokens)"
                        " SELECT team_id, period, reserved, used FROM expected WHERE true");
  if (!ins) return ins.take_error();
  if (auto r = ins->run(); !r) return r;
  return tx->commit();
}

#undef LLMD_EXPECTED_COUNTERS

}  // namespace llmd::storage
