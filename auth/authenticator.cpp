#include "auth/authenticator.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <string>

#include "auth/credentials.hpp"
#include "base/log.hpp"
#include "storage/key_store.hpp"

namespace llmd::auth {
namespace {

CachedKey to_cached(const std::optional<storage::KeyCredentials>& found) {
  CachedKey c;
  if (!found) return c;
  const storage::KeyCredentials& k = *found;
  c.exists = true;
  std::copy(k.secret_sha256.begin(), k.secret_sha256.end(), c.secret_sha256.begin());
  c.expires_at = k.key.expires_at;
  c.revoked = k.key.revoked_at.has_value() || k.team_deleted;
  auto p = std::make_shared<Principal>();
  p->key_row = k.key.id;
  p->key_id = k.key.key_id;
  p->key_name = k.key.name;
  p->role = parse_role(k.key.role).value_or(Role::user);
  p->batch = k.key.priority == "batch";
  p->team_id = k.team.id;
  p->team = k.team.name;
  p->weight = k.team.limits.weight;
  p->key_rpm = k.key.rpm_limit;
  p->key_tpm = k.key.tpm_limit;
  p->team_rpm = k.team.limits.rpm_limit;
  p->team_tpm = k.team.limits.tpm_limit;
  p->team_max_concurrent = k.team.limits.max_concurrent;
  p->allowed_models = k.team.limits.allowed_models;
  c.principal = std::move(p);
  return c;
}

}  // namespace

Authenticator::Authenticator(std::unique_ptr<storage::Database> reader, std::shared_ptr<storage::DbWorker> ledger,
                             const Clock& clock, const AuthenticatorOptions& options)
    : reader_(std::move(reader)),
      ledger_(std::move(ledger)),
      clock_(clock),
      options_(options),
      cache_(std::clamp<int64_t>(options.cache_ttl_ms, 0, 5000), options.cache_max_entries,
             options.unknown_cache_max_entries) {}

AuthResult Authenticator::verify(const CachedKey& entry, const SecretHash& presented, std::string_view key_id) {
  AuthResult r;
  if (!entry.exists ||
      CRYPTO_memcmp(presented.data(), entry.secret_sha256.data(), presented.size()) != 0) {
    log::debugf("auth: refused key id %.*s: unknown key or wrong secret", static_cast<int>(key_id.size()),
                key_id.data());
    r.denial = invalid_key_denial();
    return r;
  }
  if (entry.revoked) {
    log::debugf("auth: refused revoked key id %.*s", static_cast<int>(key_id.size()), key_id.data());
    r.denial = invalid_key_denial("This API key has been revoked.");
    return r;
  }
  const int64_t now = clock_.wall_ms();
  if (entry.expires_at && *entry.expires_at <= now) {
    log::debugf("auth: refused expired key id %.*s", static_cast<int>(key_id.size()), key_id.data());
    r.denial = invalid_key_denial("This API key has expired.");
    return r;
  }
  r.principal = entry.principal;
  if (cache_.due_for_touch(key_id, clock_.steady_ms(), options_.last_used_interval_ms)) {
    ledger_->post_grouped([row = entry.principal->key_row, now](storage::Database& db) {
      if (auto st = storage::touch_key(db, row, now); !st) {
        log::warnf("auth: cannot record key use: %s", st.error().message.c_str());
      }
    });
  }
  return r;
}

std::optional<AuthResult> Authenticator::from_memory(std::optional<std::string_view> authorization,
                                                     std::optional<std::string_view> x_api_key, Presented* out) {
  Credentials cred = extract_credentials(authorization, x_api_key);
  if (cred.status == CredentialStatus::missing) return AuthResult{nullptr, missing_key_denial()};
  if (cred.status == CredentialStatus::malformed) {
    log::debugf("auth: refused a malformed credential header");
    return AuthResult{nullptr, invalid_key_denial()};
  }
  return key_from_memory(cred.key, out);
}

std::optional<AuthResult> Authenticator::key_from_memory(std::string_view presented_key, Presented* out) {
  std::optional<ParsedKey> parsed = parse_api_key(presented_key);
  if (!parsed) {
    log::debugf("auth: refused a malformed API key (%zu bytes)", presented_key.size());
    return AuthResult{nullptr, invalid_key_denial()};
  }
  // From here on only the key id and the hash of the secret are used.
  out->hash = hash_secret(parsed->secret);
  out->key_id = std::string(parsed->key_id);
  if (auto hit = cache_.get(out->key_id, clock_.steady_ms())) return verify(*hit, out->hash, out->key_id);
  return std::nullopt;
}

AuthResult Authenticator::lookup(const Presented& key) {
  Result<std::optional<storage::KeyCredentials>> found = [&] {
    std::lock_guard lock(reader_mu_);
    return storage::load_key_credentials(*reader_, key.key_id);
  }();
  if (!found) {
    log::errorf("auth: key lookup failed: %s", found.error().message.c_str());
    return AuthResult{nullptr, storage_denial(found.error().code)};
  }
  CachedKey entry = to_cached(*found);
  cache_.put(key.key_id, entry, clock_.steady_ms());
  return verify(entry, key.hash, key.key_id);
}

std::optional<AuthResult> Authenticator::authenticate_async(std::optional<std::string_view> authorization,
                                                            std::optional<std::string_view> x_api_key,
                                                            const Worker& worker, Later later) {
  Presented key;
  if (auto decided = from_memory(authorization, x_api_key, &key)) return decided;
  // Claim a lookup slot; past the bound, refuse rather than queue.
  size_t pending = pending_.load();
  do {
    if (pending >= options_.max_pending_lookups) {
      log::warnf("auth: %zu key lookups are waiting; refusing key id %s for now", pending, key.key_id.c_str());
      return AuthResult{nullptr, busy_denial()};
    }
  } while (!pending_.compare_exchange_weak(pending, pending + 1));
  worker([this, key = std::move(key), later = std::move(later)] {
    AuthResult r = lookup(key);
    pending_.fetch_sub(1);
    later(std::move(r));
  });
  return std::nullopt;
}

AuthResult Authenticator::authenticate(std::optional<std::string_view> authorization,
                                       std::optional<std::string_view> x_api_key) {
  Presented key;
  if (auto decided = from_memory(authorization, x_api_key, &key)) return std::move(*decided);
  return lookup(key);
}

AuthResult Authenticator::authenticate_key(std::string_view presented_key) {
  Presented key;
  if (auto decided = key_from_memory(presented_key, &key)) return std::move(*decided);
  return lookup(key);
}

std::optional<Denial> require_role(const Principal& principal, Role need) {
  if (role_allows(principal.role, need)) return std::nullopt;
  return forbidden_denial("This API key does not have the admin role.");
}

}  // namespace llmd::auth
