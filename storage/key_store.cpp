#include "storage/key_store.hpp"

#include <algorithm>

namespace llmd::storage {
namespace {

// Columns 0..13 of every key query, in this order.
#define LLMD_KEY_COLUMNS                                                                          \
  "k.id, k.key_id, k.team_id, t.name, k.name, k.role, k.rpm_limit, k.tpm_limit, k.created_at," \
  " k.expires_at, k.revoked_at, k.last_used_at, k.secret_sha256, k.priority"

KeyRecord read_key(const Statement& st) {
  KeyRecord k;
  k.id = st.column_int(0);
  k.key_id = st.column_text(1);
  k.team_id = st.column_int(2);
  k.team_name = st.column_text(3);
  k.name = st.column_text(4);
  k.role = st.column_text(5);
  k.rpm_limit = st.column_opt_int(6);
  k.tpm_limit = st.column_opt_int(7);
  k.created_at = st.column_int(8);
  k.expires_at = st.column_opt_int(9);
  k.revoked_at = st.column_opt_int(10);
  k.last_used_at = st.column_opt_int(11);
  k.priority = st.column_text(13);
  return k;
}

}  // namespace

bool valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;  // printable ASCII or UTF-8 bytes, no control characters
  });
}

Result<KeyRecord> insert_key(Database& db, const NewKey& key, int64_t now_ms) {
  if (!valid_key_name(key.name)) return Error(ErrorCode::key_invalid, "key names are 1-128 printable characters");
  if (key.role != "admin" && key.role != "user") return Error(ErrorCode::key_invalid, "role must be 'admin' or 'user'");
  if (key.priority != "interactive" && key.priority != "batch") {
    return Error(ErrorCode::key_invalid, "priority must be 'interactive' or 'batch'");
  }
  if ((key.rpm_limit && *key.rpm_limit <= 0) || (key.tpm_limit && *key.tpm_limit <= 0)) {
    return Error(ErrorCode::key_invalid, "key rate limits must be greater than 0");
  }
  auto team = find_team_by_id(db, key.team_id);
  if (!team) return team.take_error();
  if (!*team) return Error(ErrorCode::team_not_found, "no such team");

  auto st = db.prepare(
      "INSERT INTO api_keys (key_id, team_id, name, role, secret_sha256, rpm_limit, tpm_limit,"
      " created_at, expires_at, priority) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!st) return st.take_error();
  st->bind_all(key.key_id, key.team_id, key.name, key.role);
  st->bind_blob(5, key.secret_sha256);
  st->bind(6, key.rpm_limit).bind(7, key.tpm_limit).bind(8, now_ms).bind(9, key.expires_at).bind(10, key.priority);
  if (auto r = st->run(); !r) {
    if (r.error().code == ErrorCode::storage_constraint) return Error(ErrorCode::key_exists, "key id already in use");
    return r.take_error();
  }
  KeyRecord k;
  k.id = db.last_insert_rowid();
  k.key_id = key.key_id;
  k.team_id = key.team_id;
  k.team_name = (*team)->name;
  k.name = key.name;
  k.role = key.role;
  k.priority = key.priority;
  k.rpm_limit = key.rpm_limit;
  k.tpm_limit = key.tpm_limit;
  k.created_at = now_ms;
  k.expires_at = key.expires_at;
  return k;
}

Result<std::optional<KeyRecord>> find_key(Database& db, std::string_view key_id) {
  auto st = db.prepare("SELECT " LLMD_KEY_COLUMNS
                       " FROM api_keys k JOIN teams t ON t.id = k.team_id WHERE k.key_id = ?1");
  if (!st) return st.take_error();
  st->bind(1, key_id);
  auto row = st->step();
  if (!row) return row.take_error();
  if (!*row) return std::optional<KeyRecord>();
  return std::optional<KeyRecord>(read_key(*st));
}

Result<std::optional<KeyCredentials>> load_key_credentials(Database& db, std::string_view key_id) {
  KeyCredentials c;
  {
    auto st = db.prepare("SELECT " LLMD_KEY_COLUMNS
                         ", t.deleted_at IS NOT NULL"
                         " FROM api_keys k JOIN teams t ON t.id = k.team_id WHERE k.key_id = ?1");
    if (!st) return st.take_error();
    st->bind(1, key_id);
    auto row = st->step();
    if (!row) return row.take_error();
    if (!*row) return std::optional<KeyCredentials>();
    c.key = read_key(*st);
    std::vector<uint8_t> hash = st->column_blob(12);
    if (hash.size() != c.secret_sha256.size()) return Error(ErrorCode::storage_error, "stored key hash has a bad size");
    std::copy(hash.begin(), hash.end(), c.secret_sha256.begin());
    c.team_deleted = st->column_int(13) != 0;
  }
  if (c.team_deleted) {
    c.team.id = c.key.team_id;
    c.team.name = c.key.team_name;
    return std::optional<KeyCredentials>(std::move(c));
  }
  auto team = find_team_by_id(db, c.key.team_id);
  if (!team) return team.take_error();
  if (!*team) {
    c.team_deleted = true;
  } else {
    c.team = std::move(**team);
  }
  return std::optional<KeyCredentials>(std::move(c));
}

Result<std::vector<KeyRecord>> list_keys(Database& db, std::optional<int64_t> team_id, bool include_revoked) {
  auto st = db.prepare("SELECT " LLMD_KEY_COLUMNS
                       " FROM api_keys k JOIN teams t ON t.id = k.team_id"
                       " WHERE (?1 IS NULL OR k.team_id = ?1) AND (?2 OR k.revoked_at IS NULL)"
                       " ORDER BY t.name, k.created_at, k.id");
  if (!st) return st.take_error();
  st->bind(1, team_id).bind(2, include_revoked ? 1 : 0);
  std::vector<KeyRecord> keys;
  LLMD_TRY(st->each_row([&] {
    keys.push_back(read_key(*st));
  }));
  return keys;
}

Status revoke_key(Database& db, std::string_view key_id, int64_t now_ms) {
  auto st = db.prepare("UPDATE api_keys SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL");
  if (!st) return st.take_error();
  if (auto r = st->bind_all(key_id, now_ms).run(); !r) return r;
  if (db.changes() == 0) return Error(ErrorCode::key_not_found, "no such active key");
  return ok_status();
}

Status set_key_expiry(Database& db, std::string_view key_id, std::optional<int64_t> expires_at) {
  auto st = db.prepare("UPDATE api_keys SET expires_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL");
  if (!st) return st.take_error();
  if (auto r = st->bind(1, key_id).bind(2, expires_at).run(); !r) return r;
  if (db.changes() == 0) return Error(ErrorCode::key_not_found, "no such active key");
  return ok_status();
}

Status touch_key(Database& db, int64_t key_row, int64_t now_ms) {
  auto st = db.prepare("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1");
  if (!st) return st.take_error();
  return st->bind_all(key_row, now_ms).run();
}

Result<int64_t> count_active_admin_keys(Database& db, int64_t now_ms) {
  auto st = db.prepare(
      "SELECT count(*) FROM api_keys k JOIN teams t ON t.id = k.team_id"
      " WHERE k.role = 'admin' AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?1)"
      " AND t.deleted_at IS NULL");
  if (!st) return st.take_error();
  st->bind(1, now_ms);
  auto row = st->step();
  if (!row) return row.take_error();
  return *row ? st->column_int(0) : 0;
}

#undef LLMD_KEY_COLUMNS

}  // namespace llmd::storage
