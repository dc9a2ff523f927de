// No key, secret or Authorization value may reach a log line or an error message.
#include <gtest/gtest.h>

#include "auth/api_key.hpp"
#include "base/log.hpp"
#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

class Secrets : public test::AuthFixture {};

TEST_F(Secrets, NeverLoggedNorEchoed) {
  const log::Level saved = log::level();
  log::set_level(log::Level::debug);
  testing::internal::CaptureStderr();

  make_team("t");
  IssuedKey user = make_key("t");
  IssuedKey admin = make_key("t", Role::admin);
  std::vector<std::string> secrets = {user.key, admin.key, std::string(parse_api_key(user.key)->secret),
                                      std::string(parse_api_key(admin.key)->secret)};
  std::vector<Denial> denials;
  auto collect = [&](const AuthResult& r) {
    if (r.denial) denials.push_back(*r.denial);
  };
  collect(auth_bearer(user.key));
  collect(auth_bearer(user.key + "x"));
  std::string wrong = assemble_api_key(user.record.key_id, std::string(kSecretLength, 'Z'));
  secrets.push_back(std::string(parse_api_key(wrong)->secret));
  collect(auth_bearer(wrong));
  collect(svc_->authenticator().authenticate("Basic " + user.key, std::nullopt));
  collect(svc_->authenticator().authenticate("Bearer " + user.key, admin.key));
  auto p = principal_for(user.key);
  auto a = admit(p, 5, 5);
  a.admission.finish({});
  auto rotated = svc_->call_admin(
      [&](storage::Database& db) { return svc_->admin().rotate_key(db, "local:test", user.record.key_id, 0); });
  ASSERT_TRUE(rotated.ok());
  secrets.push_back(rotated->key);
  collect(auth_bearer(user.key));  // revoked
  auto rev = svc_->call_admin(
      [&](storage::Database& db) { return svc_->admin().revoke_key(db, "local:test", admin.record.key_id); });
  ASSERT_TRUE(rev.ok());
  collect(auth_bearer(admin.key));
  drain_ledger();

  std::string logged = testing::internal::GetCapturedStderr();
  log::set_level(saved);
  ASSERT_FALSE(logged.empty());  // the operations above did log
  EXPECT_NE(logged.find(user.record.key_id), std::string::npos);  // key ids may appear
  ASSERT_GE(denials.size(), 5u);
  for (const auto& s : secrets) {
    EXPECT_EQ(logged.find(s), std::string::npos) << "a secret reached the log";
    for (const auto& d : denials) EXPECT_EQ(d.message.find(s), std::string::npos) << "a secret in an error";
  }
  EXPECT_EQ(logged.find("Bearer"), std::string::npos);
  EXPECT_EQ(logged.find("Basic"), std::string::npos);
}

}  // namespace
}  // namespace llmd::auth
