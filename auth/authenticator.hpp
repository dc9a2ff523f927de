// Authenticator: turns the API key of a request into a Principal, or a 401.
//
//   1. find the key in the headers (credentials.hpp);
//   2. check its format and checksum (api_key.hpp): typos and garbage stop here,
//      before any lookup;
//   3. hash the secret and look the key id up in the KeyCache, or else read it
//      from the database and cache the answer (at most ttl, 5 s);
//   4. compare the hashes with CRYPTO_memcmp, then check revocation, expiry and the
//      team. Only a caller holding the right secret learns that a key is revoked
//      or expired; everyone else hears "Invalid API key".
//
// Two ways in. authenticate_async(), for the HTTP server's authentication hook
// on an I/O thread, decides from memory what memory can decide (no key, a
// malformed key, a key or an unknown id in the cache; cheap checks first) and
// hands a cache miss to a worker: the I/O thread never reads SQLite (the read
// connection's busy timeout is seconds), and a bounded number of lookups may
// wait at once. authenticate() does the same inline, for tests and tools.
// A miss is one primary-key read on a dedicated read connection (WAL: readers
// never wait for the ledger's writes), at most once per key id per TTL. The
// one write (last_used_at, at most once a minute per key) is posted to the
// ledger thread. Keys and secrets are never logged; the public key id may be.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <optional>
#include <string_view>

#include "auth/clock.hpp"
#include "auth/denial.hpp"
#include "auth/key_cache.hpp"
#include "auth/principal.hpp"
#include "auth/role.hpp"
#include "storage/db_worker.hpp"

namespace llmd::auth {

struct AuthResult {
  std::shared_ptr<const Principal> principal;  // set when authenticated
  std::optional<Denial> denial;                // set otherwise
  bool ok() const { return principal != nullptr; }
};

struct AuthenticatorOptions {
  int64_t cache_ttl_ms = 5000;          // at most 5000: revocation must bite within 5 s
  size_t cache_max_entries = 100000;     // keys that exist
  size_t unknown_cache_max_entries = 10000;  // unknown key ids (the negative cache)
  size_t max_pending_lookups = 64;      // cache misses waiting for a worker; more -> 503 server_busy
  int64_t last_used_interval_ms = 60000;  // how often last_used_at is written per key
};

class Authenticator {
 public:
  // `reader` is used for key lookups (serialised by a mutex); `ledger` receives
  // the last-use updates.
  Authenticator(std::unique_ptr<storage::Database> reader, std::shared_ptr<storage::DbWorker> ledger,
                const Clock& clock, const AuthenticatorOptions& options = {});

  // Runs a task on a worker thread.
  using Worker = std::function<void(std::function<void()>)>;
  using Later = std::function<void(AuthResult)>;

  // Pass each header's value when present. Returns the result when memory
  // decides it, or a 503 server_busy denial when max_pending_lookups lookups
  // wait already. Otherwise returns nullopt, and `later` runs exactly once, on
  // the worker, with the result of the database lookup. The Authenticator
  // must outlive the worker's tasks.
  std::optional<AuthResult> authenticate_async(std::optional<std::string_view> authorization,
                                               std::optional<std::string_view> x_api_key, const Worker& worker,
                                               Later later);

  // The same, with a cache miss read inline (never on an I/O thread).
  AuthResult authenticate(std::optional<std::string_view> authorization, std::optional<std::string_view> x_api_key);
  AuthResult authenticate_key(std::string_view presented_key);

  // Lookups handed to a worker and not finished yet.
  size_t pending_lookups() const { return pending_.load(); }
  const KeyCache& cache() const { return cache_; }

  // Drop cached knowledge at once (after a revocation, rotation or team change).
  void forget(std::string_view key_id) { cache_.forget(key_id); }
  void forget_all() { cache_.forget_all(); }

 private:
  // A well-formed key, reduced to what is checked: its id and the secret's hash.
  struct Presented {
    std::string key_id;
    SecretHash hash{};
  };
  // The result when memory decides it; otherwise fills `out` for a lookup.
  std::optional<AuthResult> from_memory(std::optional<std::string_view> authorization,
                                        std::optional<std::string_view> x_api_key, Presented* out);
  std::optional<AuthResult> key_from_memory(std::string_view presented_key, Presented* out);
  // Reads the key from the database, caches the answer and verifies.
  AuthResult lookup(const Presented& key);
  AuthResult verify(const CachedKey& entry, const SecretHash& presented, std::string_view key_id);

  std::mutex reader_mu_;
  std::unique_ptr<storage::Database> reader_;
  std::shared_ptr<storage::DbWorker> ledger_;
  const Clock& clock_;
  AuthenticatorOptions options_;
  KeyCache cache_;
  std::atomic<size_t> pending_{0};
};

// A 403 unless the principal's role allows `need`.
std::optional<Denial> require_role(const Principal& principal, Role need);

}  // namespace llmd::auth
