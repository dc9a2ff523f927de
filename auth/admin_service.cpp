#include "auth/admin_service.hpp"

#include <algorithm>
#include <cstdio>

#include "auth/api_key.hpp"
#include "base/log.hpp"
#include "storage/transaction.hpp"

namespace llmd::auth {
namespace {

using storage::Database;
using storage::Transaction;

std::string opt_text(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "none"; }

std::string describe_limits(const storage::TeamLimits& l) {
  char weight[32];
  std::snprintf(weight, sizeof weight, "%g", l.weight);
  std::string models;
  for (const auto& m : l.allowed_models) models += (models.empty() ? "" : ",") + m;
  return std::string("weight=") + weight + " rpm_limit=" + opt_text(l.rpm_limit) +
         " tpm_limit=" + opt_text(l.tpm_limit) + " daily_token_budget=" + opt_text(l.daily_token_budget) +
         " monthly_token_budget=" + opt_text(l.monthly_token_budget) +
         " max_concurrent=" + opt_text(l.max_concurrent) + " allowed_models=" + (models.empty() ? "*" : models);
}

Status write_audit(Database& db, int64_t now, const std::string& actor, const char* action, const std::string& target,
             std::string detail) {
  return storage::append_audit(db, storage::AuditEntry{0, now, actor, action, target, std::move(detail)});
}

Result<storage::TeamRecord> live_team(Database& db, const std::string& name) {
  auto t = storage::find_team(db, name);
  if (!t) return t.take_error();
  if (!*t) return Error(ErrorCode::team_not_found, "no team named '" + name + "'");
  return std::move(**t);
}

// Inserts a freshly generated key, drawing again on the (unlikely) id collision.
Result<IssuedKey> insert_new_key(Database& db, storage::NewKey spec, int64_t now) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto generated = generate_api_key();
    if (!generated) return generated.take_error();
    spec.key_id = generated->key_id;
    spec.secret_sha256 = generated->secret_sha256;
    auto rec = storage::insert_key(db, spec, now);
    if (rec) return IssuedKey{std::move(*rec), std::move(generated->key)};
    if (rec.error().code != ErrorCode::key_exists) return rec.take_error();
  }
  return Error(ErrorCode::key_exists, "could not draw an unused key id");
}

}  // namespace

Result<storage::TeamRecord> AdminService::create_team(Database& db, const std::string& actor,
                                                      const std::string& name, const storage::TeamLimits& limits) {
  const int64_t now = clock_.wall_ms();
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  auto team = storage::create_team(db, name, limits, now);
  if (!team) return team;
  if (auto r = write_audit(db, now, actor, "team.create", name, describe_limits(limits)); !r) return r.take_error();
  if (auto r = tx->commit(); !r) return r.take_error();
  log::noticef("admin: %s created team %s", actor.c_str(), name.c_str());
  return team;
}

Result<storage::TeamRecord> AdminService::update_team(Database& db, const std::string& actor,
                                                      const std::string& name, const storage::TeamLimits& limits) {
  const int64_t now = clock_.wall_ms();
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  auto team = live_team(db, name);
  if (!team) return team;
  if (auto r = storage::update_team(db, team->id, limits, now); !r) return r.take_error();
  if (auto r = write_audit(db, now, actor, "team.update", name, describe_limits(limits)); !r) return r.take_error();
  if (auto r = tx->commit(); !r) return r.take_error();
  invalidate(std::nullopt);
  log::noticef("admin: %s updated team %s", actor.c_str(), name.c_str());
  team->limits = limits;
  team->updated_at = now;
  return team;
}

Status AdminService::delete_team(Database& db, const std::string& actor, const std::string& name) {
  const int64_t now = clock_.wall_ms();
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  auto team = live_team(db, name);
  if (!team) return team.take_error();
  if (auto r = storage::delete_team(db, team->id, now); !r) return r;
  if (auto r = write_audit(db, now, actor, "team.delete", name, "its keys were revoked"); !r) return r;
  if (auto r = tx->commit(); !r) return r;
  invalidate(std::nullopt);
  log::noticef("admin: %s deleted team %s", actor.c_str(), name.c_str());
  return ok_status();
}

Result<std::vector<storage::TeamRecord>> AdminService::list_teams(Database& db) { return storage::list_teams(db); }

Result<TeamView> AdminService::get_team(Database& db, const std::string& name) {
  auto tx = Transaction::begin(db, Transaction::Mode::deferred);
  if (!tx) return tx.take_error();
  auto team = live_team(db, name);
  if (!team) return team.take_error();
  TeamView view;
  view.team = std::move(*team);
  auto budget = storage::team_budget_status(db, view.team.id, clock_.wall_ms());
  if (!budget) return budget.take_error();
  view.budget = std::move(*budget);
  auto keys = storage::list_keys(db, view.team.id, false);
  if (!keys) return keys.take_error();
  const int64_t now = clock_.wall_ms();
  view.active_keys = std::count_if(keys->begin(), keys->end(),
                                   [&](const auto& k) { return !k.expires_at || *k.expires_at > now; });
  return view;
}

Result<IssuedKey> AdminService::create_key(Database& db, const std::string& actor, const KeySpec& spec) {
  const int64_t now = clock_.wall_ms();
  if (spec.expires_at && *spec.expires_at <= now) return Error(ErrorCode::key_invalid, "expires_at is in the past");
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  auto team = live_team(db, spec.team);
  if (!team) return team.take_error();
  storage::NewKey nk;
  nk.team_id = team->id;
  nk.name = spec.name;
  nk.role = std::string(to_string(spec.role));
  nk.priority = spec.priority;
  nk.rpm_limit = spec.rpm_limit;
  nk.tpm_limit = spec.tpm_limit;
  nk.expires_at = spec.expires_at;
  auto issued = insert_new_key(db, std::move(nk), now);
  if (!issued) return issued;
  if (auto r = write_audit(db, now, actor, "key.create", issued->record.key_id,
                     "team=" + spec.team + " name=" + spec.name + " role=" + std::string(to_string(spec.role)) +
                         " priority=" + spec.priority);
      !r) {
    return r.take_error();
  }
  if (auto r = tx->commit(); !r) return r.take_error();
  log::noticef("admin: %s created %s key %s for team %s", actor.c_str(), std::string(to_string(spec.role)).c_str(),
               issued->record.key_id.c_str(), spec.team.c_str());
  return issued;
}

Result<storage::KeyRecord> AdminService::revoke_key(Database& db, const std::string& actor,
                                                    const std::string& key_id) {
  const int64_t now = clock_.wall_ms();
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  if (auto r = storage::revoke_key(db, key_id, now); !r) return r.take_error();
  auto rec = storage::find_key(db, key_id);
  if (!rec) return rec.take_error();
  if (!*rec) return Error(ErrorCode::key_not_found, "no such key");
  if (auto r = write_audit(db, now, actor, "key.revoke", key_id, "team=" + (*rec)->team_name); !r) return r.take_error();
  if (auto r = tx->commit(); !r) return r.take_error();
  invalidate(key_id);
  log::noticef("admin: %s revoked key %s", actor.c_str(), key_id.c_str());
  return std::move(**rec);
}

Result<IssuedKey> AdminService::rotate_key(Database& db, const std::string& actor, const std::string& key_id,
                                           int64_t grace_ms) {
  const int64_t now = clock_.wall_ms();
  if (grace_ms < 0) return Error(ErrorCode::key_invalid, "grace period must not be negative");
  auto tx = Transaction::begin(db);
  if (!tx) return tx.take_error();
  auto old = storage::find_key(db, key_id);
  if (!old) return old.take_error();
  if (!*old || (*old)->revoked_at || ((*old)->expires_at && *(*old)->expires_at <= now)) {
    return Error(ErrorCode::key_not_found, "no such active key");
  }
  const storage::KeyRecord& o = **old;
  storage::NewKey nk;
  nk.team_id = o.team_id;
  nk.name = o.name;
  nk.role = o.role;
  nk.priority = o.priority;
  nk.rpm_limit = o.rpm_limit;
  nk.tpm_limit = o.tpm_limit;
  nk.expires_at = o.expires_at;
  auto issued = insert_new_key(db, std::move(nk), now);
  if (!issued) return issued;
  if (grace_ms == 0) {
    if (auto r = storage::revoke_key(db, key_id, now); !r) return r.take_error();
  } else {
    int64_t until = o.expires_at ? std::min(*o.expires_at, now + grace_ms) : now + grace_ms;
    if (auto r = storage::set_key_expiry(db, key_id, until); !r) return r.take_error();
  }
  if (auto r = write_audit(db, now, actor, "key.rotate", key_id,
                     "new_key=" + issued->record.key_id + " grace_ms=" + std::to_string(grace_ms));
      !r) {
    return r.take_error();
  }
  if (auto r = tx->commit(); !r) return r.take_error();
  invalidate(key_id);
  log::noticef("admin: %s rotated key %s to %s", actor.c_str(), key_id.c_str(), issued->record.key_id.c_str());
  return issued;
}

Result<std::vector<storage::KeyRecord>> AdminService::list_keys(Database& db, const std::optional<std::string>& team,
                                                                bool include_revoked) {
  std::optional<int64_t> team_id;
  if (team) {
    auto t = live_team(db, *team);
    if (!t) return t.take_error();
    team_id = t->id;
  }
  return storage::list_keys(db, team_id, include_revoked);
}

Result<std::vector<storage::UsageSummary>> AdminService::usage(Database& db, const storage::UsageQuery& query) {
  return storage::summarize_usage(db, query);
}

Result<std::vector<storage::AuditEntry>> AdminService::audit(Database& db, const storage::AuditQuery& query) {
  return storage::list_audit(db, query);
}

}  // namespace llmd::auth
