// API key records. Only the SHA-256 of each key's secret is stored; the key id is
// the public half of the key and identifies the row. Keys are never deleted
// (usage rows refer to them): they are revoked or expire.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "storage/database.hpp"
#include "storage/team_store.hpp"

namespace llmd::storage {

using SecretHash = std::array<uint8_t, 32>;

struct NewKey {
  std::string key_id;
  int64_t team_id = 0;
  std::string name;
  std::string role;  // "admin" or "user"
  std::string priority = "interactive";  // or "batch": the class its requests are scheduled in
  SecretHash secret_sha256{};
  std::optional<int64_t> rpm_limit;
  std::optional<int64_t> tpm_limit;
  std::optional<int64_t> expires_at;
};

struct KeyRecord {
  int64_t id = 0;  // row id (usage rows refer to it)
  std::string key_id;
  int64_t team_id = 0;
  std::string team_name;
  std::string name;
  std::string role;
  std::string priority = "interactive";
  std::optional<int64_t> rpm_limit;
  std::optional<int64_t> tpm_limit;
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used_at;
};

// What verifying a presented key needs, read in one go: the key's hash and state
// and its team's current limits. `team_deleted` keys are refused like revoked ones.
struct KeyCredentials {
  KeyRecord key;
  SecretHash secret_sha256{};
  TeamRecord team;
  bool team_deleted = false;
};

// Key names: 1-128 printable characters.
bool valid_key_name(std::string_view name);

// Errors: key_invalid, key_exists (a key id collision), team_not_found.
Result<KeyRecord> insert_key(Database& db, const NewKey& key, int64_t now_ms);
Result<std::optional<KeyRecord>> find_key(Database& db, std::string_view key_id);
Result<std::optional<KeyCredentials>> load_key_credentials(Database& db, std::string_view key_id);
// Keys of one team (team_id set) or of all teams, revoked ones included when asked.
Result<std::vector<KeyRecord>> list_keys(Database& db, std::optional<int64_t> team_id, bool include_revoked);
// Revokes a key that is not yet revoked. Errors: key_not_found.
Status revoke_key(Database& db, std::string_view key_id, int64_t now_ms);
// Sets or clears the expiry of a live key. Errors: key_not_found.
Status set_key_expiry(Database& db, std::string_view key_id, std::optional<int64_t> expires_at);
Status touch_key(Database& db, int64_t key_row, int64_t now_ms);
// Live (not revoked, not expired) admin keys.
Result<int64_t> count_active_admin_keys(Database& db, int64_t now_ms);

}  // namespace llmd::storage
