// A real AuthService on a temporary state directory with an injected clock, and
// helpers to make teams and keys through the admin operations.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "auth/auth_service.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::test {

class AuthFixture : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open(bool recover = true) {
    auth::AuthServiceOptions o;
    o.state_dir = dir_.file("state");
    o.recover = recover;
    o.authenticator = authn_options_;
    auto svc = auth::AuthService::open(o, clock_);
    ASSERT_TRUE(svc.ok()) << svc.error().message;
    svc_ = std::move(*svc);
  }

  void close() { svc_.reset(); }

  storage::TeamRecord make_team(const std::string& name, storage::TeamLimits limits = {}) {
    auto t = svc_->call_admin(
        [&](storage::Database& db) { return svc_->admin().create_team(db, "local:test", name, limits); });
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
    return t.ok() ? *t : storage::TeamRecord{};
  }

  auth::IssuedKey make_key(const std::string& team, auth::Role role = auth::Role::user,
                           std::optional<int64_t> expires_at = std::nullopt) {
    auth::KeySpec spec;
    spec.team = team;
    spec.name = "key-for-" + team;
    spec.role = role;
    spec.expires_at = expires_at;
    auto k = svc_->call_admin([&](storage::Database& db) { return svc_->admin().create_key(db, "local:test", spec); });
    EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.error().message);
    return k.ok() ? *k : auth::IssuedKey{};
  }

  auth::AuthResult auth_bearer(const std::string& key) {
    std::string header = "Bearer " + key;
    return svc_->authenticator().authenticate(header, std::nullopt);
  }

  std::shared_ptr<const auth::Principal> principal_for(const std::string& key) {
    auto r = auth_bearer(key);
    EXPECT_TRUE(r.ok()) << (r.denial ? r.denial->message : "");
    return r.principal;
  }

  auth::AdmissionResult admit(const std::shared_ptr<const auth::Principal>& p, int64_t prompt, int64_t max_tokens,
                              const std::string& model = "m") {
    auth::AdmissionRequest req;
    req.model = model;
    req.prompt_tokens = prompt;
    req.max_tokens = max_tokens;
    req.request_id = "req-test";
    return svc_->admissions().admit_blocking(p, req);
  }

  storage::LedgerCheck ledger_check() {
    auto c = svc_->call_ledger([](storage::Database& db) { return storage::check_ledger(db); });
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : storage::LedgerCheck{};
  }

  // Waits until every ledger task queued so far has run.
  void drain_ledger() {
    svc_->call_ledger([](storage::Database&) { return 0; });
  }

  TempDir dir_;
  auth::AuthenticatorOptions authn_options_;  // a test may set it before SetUp()
  auth::ManualClock clock_;
  std::unique_ptr<auth::AuthService> svc_;
};

}  // namespace llmd::test
