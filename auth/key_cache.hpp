// KeyCache: what the database said about a key id, kept for at most a few
// seconds (5 by default) so that most requests verify without touching SQLite
// while a revocation or expiry still takes effect within that time. Unknown key
// ids are cached too (a negative cache), so a flood of made-up keys does not
// reach the database more than once per id and period. The two are bounded
// apart: anyone can mint well-formed unknown ids, and those must never push
// the keys that exist out of the cache. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/api_key.hpp"
#include "auth/principal.hpp"

namespace llmd::auth {

struct CachedKey {
  bool exists = false;
  SecretHash secret_sha256{};
  std::optional<int64_t> expires_at;  // wall ms
  bool revoked = false;               // key revoked or its team deleted
  std::shared_ptr<const Principal> principal;
};

class KeyCache {
 public:
  // At most `max_entries` keys that exist and `max_unknown` unknown ids.
  KeyCache(int64_t ttl_ms, size_t max_entries, size_t max_unknown)
      : ttl_ms_(ttl_ms), max_entries_(max_entries), max_unknown_(max_unknown) {}

  // The entry for `key_id` if it was stored less than ttl ago (steady ms).
  std::optional<CachedKey> get(std::string_view key_id, int64_t now_ms);
  void put(const std::string& key_id, CachedKey entry, int64_t now_ms);
  void forget(std::string_view key_id);
  void forget_all();

  // True at most once per `interval_ms` for a key: time to record last use.
  bool due_for_touch(std::string_view key_id, int64_t now_ms, int64_t interval_ms);

  int64_t ttl_ms() const { return ttl_ms_; }
  size_t known_size() const;
  size_t unknown_size() const;

 private:
  struct Slot {
    CachedKey entry;
    int64_t stored_at = 0;
  };

  using Slots = std::unordered_map<std::string, Slot>;
  // Makes room for one more entry in `slots` (at most `max` entries): stale
  // entries go first; if all are fresh, an arbitrary one.
  void make_room(Slots& slots, size_t max, int64_t now_ms);

  const int64_t ttl_ms_;
  const size_t max_entries_;
  const size_t max_unknown_;
  mutable std::mutex mu_;
  Slots slots_;    // keys that exist
  Slots unknown_;  // ids the database does not know
  std::unordered_map<std::string, int64_t> touched_;
};

}  // namespace llmd::auth
