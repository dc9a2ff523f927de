// Key verification against a real SQLite ledger: the key lifecycle, the 5 s cache
// bound, hostile input.
#include <gtest/gtest.h>

#include <random>

#include "auth/api_key.hpp"
#include "base/log.hpp"
#include "storage/key_store.hpp"
#include "storage/migrations.hpp"
#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

using test::AuthFixture;

class Authn : public AuthFixture {};

TEST_F(Authn, ValidKeyByBearerAndXApiKey) {
  storage::TeamLimits l;
  l.weight = 3;
  make_team("research", l);
  IssuedKey k = make_key("research", Role::admin);
  auto a = auth_bearer(k.key);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.principal->team, "research");
  EXPECT_DOUBLE_EQ(a.principal->weight, 3);
  EXPECT_EQ(a.principal->role, Role::admin);
  EXPECT_EQ(a.principal->key_id, k.record.key_id);
  auto b = svc_->authenticator().authenticate(std::nullopt, k.key);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.principal->key_row, a.principal->key_row);
}

TEST_F(Authn, MissingKeyIs401) {
  auto r = svc_->authenticator().authenticate(std::nullopt, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.denial->http_status, 401);
  EXPECT_EQ(r.denial->code, "invalid_api_key");
}

TEST_F(Authn, WrongSecretWithValidChecksumIs401) {
  make_team("t");
  IssuedKey k = make_key("t");
  std::string forged = assemble_api_key(k.record.key_id, std::string(kSecretLength, 'A'));
  ASSERT_TRUE(parse_api_key(forged));
  auto r = auth_bearer(forged);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.denial->http_status, 401);
  EXPECT_EQ(r.denial->message, "Invalid API key.");
}

TEST_F(Authn, StoredHashPresentedAsKeyIs401) {
  make_team("t");
  IssuedKey k = make_key("t");
  storage::SecretHash stored = svc_->call_ledger([&](storage::Database& db) {
    return (*storage::load_key_credentials(db, k.record.key_id))->secret_sha256;
  });
  static const char* hex = "0123456789abcdef";
  std::string hash_hex;
  for (uint8_t b : stored) {
    hash_hex += hex[b >> 4];
    hash_hex += hex[b & 15];
  }
  // The hash as the whole key, as the secret (right length, valid checksum), raw bytes.
  std::string as_secret = assemble_api_key(k.record.key_id, hash_hex.substr(0, kSecretLength));
  ASSERT_TRUE(parse_api_key(as_secret));
  for (const std::string& attempt :
       {hash_hex, as_secret, "llmd_" + k.record.key_id + "_" + hash_hex,
        std::string(reinterpret_cast<const char*>(stored.data()), stored.size())}) {
    auto r = svc_->authenticator().authenticate(std::nullopt, attempt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.denial->http_status, 401);
  }
  EXPECT_TRUE(auth_bearer(k.key).ok());
}

TEST_F(Authn, RevocationThroughAdminBitesAtOnce) {
  make_team("t");
  IssuedKey k = make_key("t");
  ASSERT_TRUE(auth_bearer(k.key).ok());  // now cached
  auto rev = svc_->call_admin(
      [&](storage::Database& db) { return svc_->admin().revoke_key(db, "local:test", k.record.key_id); });
  ASSERT_TRUE(rev.ok());
  auto r = auth_bearer(k.key);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.denial->message, "This API key has been revoked.");
}

TEST_F(Authn, RevocationByAnotherProcessBitesWithinTheCacheTtl) {
  make_team("t");
  IssuedKey k = make_key("t");
  ASSERT_TRUE(auth_bearer(k.key).ok());
  {
    // Another connection (as another process would) revokes behind the cache's back.
    auto other = storage::open_database(svc_->database_path());
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(storage::revoke_key(**other, k.record.key_id, clock_.wall_ms()).ok());
  }
  clock_.advance_ms(4999);
  EXPECT_TRUE(auth_bearer(k.key).ok());  // still cached
  clock_.advance_ms(1);
  EXPECT_FALSE(auth_bearer(k.key).ok());  // 5 s after caching: refused
}

TEST_F(Authn, ExpiryIsCheckedOnEveryUse) {
  make_team("t");
  IssuedKey k = make_key("t", Role::user, clock_.wall_ms() + 1000);
  ASSERT_TRUE(auth_bearer(k.key).ok());
  clock_.advance_ms(999);
  EXPECT_TRUE(auth_bearer(k.key).ok());
  clock_.advance_ms(1);
  auto r = auth_bearer(k.key);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.denial->message, "This API key has expired.");
}

TEST_F(Authn, RotationIssuesANewKeyAndRetiresTheOld) {
  make_team("t");
  IssuedKey k = make_key("t");
  auto rotated = svc_->call_admin(
      [&](storage::Database& db) { return svc_->admin().rotate_key(db, "local:test", k.record.key_id, 0); });
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_NE(rotated->record.key_id, k.record.key_id);
  EXPECT_EQ(rotated->record.name, k.record.name);
  EXPECT_FALSE(auth_bearer(k.key).ok());
  EXPECT_TRUE(auth_bearer(rotated->key).ok());

  // With a grace period the old key keeps working until it ends.
  auto again = svc_->call_admin([&](storage::Database& db) {
    return svc_->admin().rotate_key(db, "local:test", rotated->record.key_id, 60'000);
  });
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(auth_bearer(rotated->key).ok());
  EXPECT_TRUE(auth_bearer(again->key).ok());
  clock_.advance_ms(60'000);
  EXPECT_FALSE(auth_bearer(rotated->key).ok());
  EXPECT_TRUE(auth_bearer(again->key).ok());
}

TEST_F(Authn, DeletingTheTeamRevokesItsKeys) {
  make_team("t");
  IssuedKey k = make_key("t");
  ASSERT_TRUE(auth_bearer(k.key).ok());
  auto del = svc_->call_admin([&](storage::Database& db) { return svc_->admin().delete_team(db, "local:test", "t"); });
  ASSERT_TRUE(del.ok());
  EXPECT_FALSE(auth_bearer(k.key).ok());
}

TEST_F(Authn, HostileAndRandomInputIsRefusedWithoutErrors) {
  make_team("t");
  IssuedKey k = make_key("t");
  std::vector<std::string> inputs = {"' OR '1'='1", "' OR 1=1 --", "\"; DROP TABLE api_keys; --",
                                     "llmd_' OR '1'='1", "llmd_%_%", "llmd_*", std::string(100000, 'A'),
                                     "llmd_" + k.record.key_id + "_' OR '1'='1", k.key + "'", k.key.substr(1)};
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string s(static_cast<size_t>(rng() % 120) + 1, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    inputs.push_back(s);
    std::string near = k.key;
    near[rng() % near.size()] = static_cast<char>(33 + rng() % 90);
    if (near != k.key) inputs.push_back(near);
  }
  const log::Level saved = log::level();
  log::set_level(log::Level::debug);
  testing::internal::CaptureStderr();
  for (const std::string& s : inputs) {
    auto a = svc_->authenticator().authenticate(std::nullopt, s);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.denial->http_status, 401);
    auto b = svc_->authenticator().authenticate("Bearer " + s, std::nullopt);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.denial->http_status, 401);
  }
  std::string logged = testing::internal::GetCapturedStderr();
  log::set_level(saved);
  EXPECT_NE(logged.find("<7>auth: refused"), std::string::npos);  // the refusals were logged...
  EXPECT_EQ(logged.find("<3>"), std::string::npos) << logged;  // no error lines
  EXPECT_EQ(logged.find("SQL"), std::string::npos);
  EXPECT_EQ(logged.find("sqlite"), std::string::npos);
  EXPECT_TRUE(auth_bearer(k.key).ok());
  auto teams = svc_->call_admin([&](storage::Database& db) { return svc_->admin().list_teams(db); });
  EXPECT_EQ(teams->size(), 1u);
}

TEST_F(Authn, UserKeysMayNotUseAdminRoutes) {
  make_team("t");
  auto user = principal_for(make_key("t", Role::user).key);
  auto admin = principal_for(make_key("t", Role::admin).key);
  auto denied = require_role(*user, Role::admin);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->http_status, 403);
  EXPECT_FALSE(require_role(*admin, Role::admin));
  EXPECT_FALSE(require_role(*user, Role::user));
}

TEST_F(Authn, LastUseIsRecorded) {
  make_team("t");
  IssuedKey k = make_key("t");
  ASSERT_TRUE(auth_bearer(k.key).ok());
  drain_ledger();
  auto rec = svc_->call_ledger([&](storage::Database& db) { return storage::find_key(db, k.record.key_id); });
  ASSERT_TRUE(rec.ok() && *rec);
  EXPECT_EQ((*rec)->last_used_at, clock_.wall_ms());
}

TEST_F(Authn, TeamChangesReachPrincipalsAtOnce) {
  make_team("t");
  IssuedKey k = make_key("t");
  EXPECT_DOUBLE_EQ(principal_for(k.key)->weight, 1.0);
  storage::TeamLimits l;
  l.weight = 4;
  l.rpm_limit = 7;
  auto up = svc_->call_admin([&](storage::Database& db) { return svc_->admin().update_team(db, "local:test", "t", l); });
  ASSERT_TRUE(up.ok());
  auto p = principal_for(k.key);
  EXPECT_DOUBLE_EQ(p->weight, 4.0);
  EXPECT_EQ(p->team_rpm, 7);
}

}  // namespace
}  // namespace llmd::auth
