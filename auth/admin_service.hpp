// AdminService: the operations behind the admin REST API and `llmd
// bootstrap-admin`: teams, keys, usage reports and the audit log.
//
// Every change runs in one IMMEDIATE transaction together with its audit row, and
// afterwards drops the affected keys from the authentication cache so that a
// revocation bites at once in this process. Methods run on the caller's thread
// with the connection they are given: the daemon calls them on its admin
// DbWorker (see AuthService::post_admin), tools on their own connection.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/clock.hpp"
#include "auth/role.hpp"
#include "base/result.hpp"
#include "storage/audit_log.hpp"
#include "storage/database.hpp"
#include "storage/key_store.hpp"
#include "storage/team_store.hpp"
#include "storage/usage_ledger.hpp"
#include "storage/usage_report.hpp"

namespace llmd::auth {

struct KeySpec {
  std::string team;                    // team name
  std::string name;
  Role role = Role::user;
  std::optional<int64_t> expires_at;   // wall ms
  std::optional<int64_t> rpm_limit;
  std::optional<int64_t> tpm_limit;
  std::string priority = "interactive";  // or "batch": the scheduling class of its requests
};

struct IssuedKey {
  storage::KeyRecord record;
  std::string key;  // the full key: the only time it exists outside the client
};

struct TeamView {
  storage::TeamRecord team;
  storage::TeamBudgetStatus budget;
  int64_t active_keys = 0;
};

class AdminService {
 public:
  // Called after a change with the key id whose cached state is stale, or with
  // nullopt when any key may be (team changes).
  using Invalidate = std::function<void(const std::optional<std::string>& key_id)>;

  AdminService(const Clock& clock, Invalidate invalidate) : clock_(clock), invalidate_(std::move(invalidate)) {}

  // `actor` names who acts, for the audit log: "key:<key id>" or "local:<user>".
  Result<storage::TeamRecord> create_team(storage::Database& db, const std::string& actor, const std::string& name,
                                          const storage::TeamLimits& limits);
  Result<storage::TeamRecord> update_team(storage::Database& db, const std::string& actor, const std::string& name,
                                          const storage::TeamLimits& limits);
  Status delete_team(storage::Database& db, const std::string& actor, const std::string& name);
  Result<std::vector<storage::TeamRecord>> list_teams(storage::Database& db);
  Result<TeamView> get_team(storage::Database& db, const std::string& name);

  Result<IssuedKey> create_key(storage::Database& db, const std::string& actor, const KeySpec& spec);
  Result<storage::KeyRecord> revoke_key(storage::Database& db, const std::string& actor, const std::string& key_id);
  // Issues a new key with the same team, name, role and limits; the old one is
  // revoked now (grace 0) or expires after `grace_ms`.
  Result<IssuedKey> rotate_key(storage::Database& db, const std::string& actor, const std::string& key_id,
                               int64_t grace_ms);
  Result<std::vector<storage::KeyRecord>> list_keys(storage::Database& db, const std::optional<std::string>& team,
                                                    bool include_revoked);

  Result<std::vector<storage::UsageSummary>> usage(storage::Database& db, const storage::UsageQuery& query);
  Result<std::vector<storage::AuditEntry>> audit(storage::Database& db, const storage::AuditQuery& query);

  int64_t now_ms() const { return clock_.wall_ms(); }

 private:
  void invalidate(const std::optional<std::string>& key_id) {
    if (invalidate_) invalidate_(key_id);
  }

  const Clock& clock_;
  Invalidate invalidate_;
};

}  // namespace llmd::auth
