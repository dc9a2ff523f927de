#include "storage/usage_report.hpp"

#include <algorithm>

#include "storage/calendar.hpp"

namespace llmd::storage {

Result<std::vector<UsageSummary>> summarize_usage(Database& db, const UsageQuery& q) {
  for (const auto* day : {&q.from_day, &q.to_day}) {
    if (*day && !parse_day(**day)) return Error(ErrorCode::usage_invalid, "days are written YYYY-MM-DD");
  }
  auto st = db.prepare(
      "SELECT u.day, t.name, k.key_id, k.name, u.model, u.requests, u.ok, u.errors, u.cancelled, u.interrupted,"
      " u.open, u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.charged_tokens, u.queue_wait_ms"
      " FROM usage_daily u JOIN teams t ON t.id = u.team_id JOIN api_keys k ON k.id = u.api_key_id"
      " WHERE (?1 IS NULL OR t.name = ?1) AND (?2 IS NULL OR k.key_id = ?2) AND (?3 IS NULL OR u.model = ?3)"
      "  AND (?4 IS NULL OR u.day >= ?4) AND (?5 IS NULL OR u.day <= ?5)"
      " ORDER BY u.day, t.name, k.key_id, u.model LIMIT ?6");
  if (!st) return st.take_error();
  auto opt = [](const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
  };
  st->bind(1, opt(q.team)).bind(2, opt(q.key_id)).bind(3, opt(q.model)).bind(4, opt(q.from_day));
  st->bind(5, opt(q.to_day)).bind(6, std::clamp<int64_t>(q.limit, 1, 100000));
  std::vector<UsageSummary> out;
  LLMD_TRY(st->each_row([&] {
    UsageSummary s;
    s.day = st->column_text(0);
    s.team = st->column_text(1);
    s.key_id = st->column_text(2);
    s.key_name = st->column_text(3);
    s.model = st->column_text(4);
    s.requests = st->column_int(5);
    s.ok = st->column_int(6);
    s.errors = st->column_int(7);
    s.cancelled = st->column_int(8);
    s.interrupted = st->column_int(9);
    s.open = st->column_int(10);
    s.prompt_tokens = st->column_int(11);
    s.completion_tokens = st->column_int(12);
    s.cached_tokens = st->column_int(13);
    s.charged_tokens = st->column_int(14);
    s.queue_wait_ms_total = st->column_int(15);
    out.push_back(std::move(s));
  }));
  return out;
}

}  // namespace llmd::storage
