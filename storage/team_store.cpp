#include "storage/team_store.hpp"

#include <cmath>

namespace llmd::storage {
namespace {

constexpr size_t kMaxModelName = 256;
constexpr size_t kMaxModels = 256;

Status load_models(Database& db, TeamRecord* team) {
  auto st = db.prepare("SELECT model FROM team_models WHERE team_id = ?1 ORDER BY model");
  if (!st) return st.take_error();
  st->bind(1, team->id);
  LLMD_TRY(st->each_row([&] {
    team->limits.allowed_models.push_back(st->column_text(0));
  }));
  return ok_status();
}

Status store_models(Database& db, int64_t team_id, const std::vector<std::string>& models) {
  auto del = db.prepare("DELETE FROM team_models WHERE team_id = ?1");
  if (!del) return del.take_error();
  if (auto r = del->bind(1, team_id).run(); !r) return r;
  for (const std::string& m : models) {
    auto ins = db.prepare("INSERT OR IGNORE INTO team_models (team_id, model) VALUES (?1, ?2)");
    if (!ins) return ins.take_error();
    if (auto r = ins->bind_all(team_id, m).run(); !r) return r;
  }
  return ok_status();
}

TeamRecord read_team(const Statement& st) {
  TeamRecord t;
  t.id = st.column_int(0);
  t.name = st.column_text(1);
  t.limits.weight = st.column_double(2);
  t.limits.rpm_limit = st.column_opt_int(3);
  t.limits.tpm_limit = st.column_opt_int(4);
  t.limits.daily_token_budget = st.column_opt_int(5);
  t.limits.monthly_token_budget = st.column_opt_int(6);
  t.limits.max_concurrent = st.column_opt_int(7);
  t.created_at = st.column_int(8);
  t.updated_at = st.column_int(9);
  return t;
}

Result<std::optional<TeamRecord>> one_team(Database& db, Statement& st) {
  auto row = st.step();
  if (!row) return row.take_error();
  if (!*row) return std::optional<TeamRecord>();
  TeamRecord t = read_team(st);
  if (auto r = load_models(db, &t); !r) return r.take_error();
  return std::optional<TeamRecord>(std::move(t));
}

}  // namespace

bool valid_team_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status validate_team_limits(const TeamLimits& l) {
  if (!std::isfinite(l.weight) || l.weight <= 0 || l.weight > 1e6) {
    return Error(ErrorCode::team_invalid, "weight must be a number greater than 0 and at most 1000000");
  }
  auto positive = [](const std::optional<int64_t>& v) { return !v || *v > 0; };
  auto non_negative = [](const std::optional<int64_t>& v) { return !v || *v >= 0; };
  if (!positive(l.rpm_limit)) return Error(ErrorCode::team_invalid, "rpm_limit must be greater than 0");
  if (!positive(l.tpm_limit)) return Error(ErrorCode::team_invalid, "tpm_limit must be greater than 0");
  if (!positive(l.max_concurrent)) return Error(ErrorCode::team_invalid, "max_concurrent must be greater than 0");
  if (!non_negative(l.daily_token_budget)) return Error(ErrorCode::team_invalid, "daily_token_budget must be >= 0");
  if (!non_negative(l.monthly_token_budget)) return Error(ErrorCode::team_invalid, "monthly_token_budget must be >= 0");
  if (l.allowed_models.size() > kMaxModels) return Error(ErrorCode::team_invalid, "too many allowed models");
  for (const std::string& m : l.allowed_models) {
    if (m.empty() || m.size() > kMaxModelName) {
      return Error(ErrorCode::team_invalid, "allowed model names must be 1-256 characters");
    }
  }
  return ok_status();
}

Result<TeamRecord> create_team(Database& db, std::string_view name, const TeamLimits& limits, int64_t now_ms) {
  if (!valid_team_name(name)) {
    return Error(ErrorCode::team_invalid, "team names are 1-64 characters of letters, digits, '.', '_' and '-'");
  }
  if (auto r = validate_team_limits(limits); !r) return r.take_error();
  auto st = db.prepare(
      "INSERT INTO teams (name, weight, rpm_limit, tpm_limit, daily_token_budget, monthly_token_budget,"
      " max_concurrent, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
  if (!st) return st.take_error();
  st->bind_all(name, limits.weight, limits.rpm_limit, limits.tpm_limit, limits.daily_token_budget,
               limits.monthly_token_budget, limits.max_concurrent, now_ms);
  if (auto r = st->run(); !r) {
    if (r.error().code == ErrorCode::storage_constraint) {
      return Error(ErrorCode::team_exists, "a team named '" + std::string(name) + "' already exists");
    }
    return r.take_error();
  }
  TeamRecord t;
  t.id = db.last_insert_rowid();
  t.name = std::string(name);
  t.limits = limits;
  t.created_at = t.updated_at = now_ms;
  if (auto r = store_models(db, t.id, limits.allowed_models); !r) return r.take_error();
  return t;
}

Result<std::optional<TeamRecord>> find_team(Database& db, std::string_view name) {
  auto st = db.prepare(
      "SELECT id, name, weight, rpm_limit, tpm_limit, daily_token_budget, monthly_token_budget,"
      " max_concurrent, created_at, updated_at FROM teams WHERE name = ?1 AND deleted_at IS NULL");
  if (!st) return st.take_error();
  st->bind(1, name);
  return one_team(db, *st);
}

Result<std::optional<TeamRecord>> find_team_by_id(Database& db, int64_t id) {
  auto st = db.prepare(
      "SELECT id, name, weight, rpm_limit, tpm_limit, daily_token_budget, monthly_token_budget,"
      " max_concurrent, created_at, updated_at FROM teams WHERE id = ?1 AND deleted_at IS NULL");
  if (!st) return st.take_error();
  st->bind(1, id);
  return one_team(db, *st);
}

Result<std::vector<TeamRecord>> list_teams(Database& db) {
  std::vector<TeamRecord> teams;
  {
    auto st = db.prepare(
        "SELECT id, name, weight, rpm_limit, tpm_limit, daily_token_budget, monthly_token_budget,"
        " max_concurrent, created_at, updated_at FROM teams WHERE deleted_at IS NULL ORDER BY name");
    if (!st) return st.take_error();
    LLMD_TRY(st->each_row([&] {
      teams.push_back(read_team(*st));
    }));
  }
  for (TeamRecord& t : teams) {
    if (auto r = load_models(db, &t); !r) return r.take_error();
  }
  return teams;
}

Status update_team(Database& db, int64_t team_id, const TeamLimits& limits, int64_t now_ms) {
  if (auto r = validate_team_limits(limits); !r) return r;
  auto st = db.prepare(
      "UPDATE teams SET weight = ?2, rpm_limit = ?3, tpm_limit = ?4, daily_token_budget = ?5,"
      " monthly_token_budget = ?6, max_concurrent = ?7, updated_at = ?8"
      " WHERE id = ?1 AND deleted_at IS NULL");
  if (!st) return st.take_error();
  st->bind_all(team_id, limits.weight, limits.rpm_limit, limits.tpm_limit, limits.daily_token_budget,
               limits.monthly_token_budget, limits.max_concurrent, now_ms);
  if (auto r = st->run(); !r) return r;
  if (db.changes() == 0) return Error(ErrorCode::team_not_found, "no such team");
  return store_models(db, team_id, limits.allowed_models);
}

Status delete_team(Database& db, int64_t team_id, int64_t now_ms) {
  auto st = db.prepare("UPDATE teams SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1 AND deleted_at IS NULL");
  if (!st) return st.take_error();
  if (auto r = st->bind_all(team_id, now_ms).run(); !r) return r;
  if (db.changes() == 0) return Error(ErrorCode::team_not_found, "no such team");
  auto keys = db.prepare("UPDATE api_keys SET revoked_at = ?2 WHERE team_id = ?1 AND revoked_at IS NULL");
  if (!keys) return keys.take_error();
  return keys->bind_all(team_id, now_ms).run();
}

}  // namespace llmd::storage
