#include "storage/audit_log.hpp"

#include <algorithm>

namespace llmd::storage {

Status append_audit(Database& db, const AuditEntry& e) {
  auto st = db.prepare("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return st.take_error();
  return st->bind_all(e.at, e.actor, e.action, e.target, e.detail).run();
}

Result<std::vector<AuditEntry>> list_audit(Database& db, const AuditQuery& q) {
  auto st = db.prepare(
      "SELECT id, at, actor, action, target, detail FROM audit_log"
      " WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3");
  if (!st) return st.take_error();
  st->bind(1, q.since_ms).bind(2, q.before_id).bind(3, std::clamp<int64_t>(q.limit, 1, 10000));
  std::vector<AuditEntry> out;
  LLMD_TRY(st->each_row([&] {
    out.push_back(AuditEntry{st->column_int(0), st->column_int(1), st->column_text(2), st->column_text(3),
                             st->column_text(4), st->column_text(5)});
  }));
  return out;
}

}  // namespace llmd::storage
