// The audit log: who did what to which team or key, and when. Written in the same
// transaction as the change it records. Never holds secrets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

struct AuditEntry {
  int64_t id = 0;
  int64_t at = 0;          // ms since the epoch
  std::string actor;       // key id of the admin, or "local:<user>" for commands run on the host
  std::string action;      // e.g. "team.create", "key.revoke"
  std::string target;      // the team name or key id acted on
  std::string detail;      // free text (JSON) with the changed fields
};

Status append_audit(Database& db, const AuditEntry& entry);

struct AuditQuery {
  std::optional<int64_t> since_ms;   // entries at or after this time
  std::optional<int64_t> before_id;  // for paging backwards
  int64_t limit = 100;               // 1..10000
};

// Newest first.
Result<std::vector<AuditEntry>> list_audit(Database& db, const AuditQuery& query);

}  // namespace llmd::storage
