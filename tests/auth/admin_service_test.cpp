// Admin operations: audit trail, views, errors.
#include <gtest/gtest.h>

#include "tests/auth/auth_fixture.hpp"

namespace llmd::auth {
namespace {

using test::AuthFixture;

class Admin : public AuthFixture {
 protected:
  template <typename F>
  auto admin(F f) {
    return svc_->call_admin([&](storage::Database& db) { return f(db, svc_->admin()); });
  }
};

TEST_F(Admin, EveryChangeIsAudited) {
  make_team("t");
  IssuedKey k = make_key("t");
  storage::TeamLimits l;
  l.weight = 2;
  ASSERT_TRUE(admin([&](auto& db, auto& a) { return a.update_team(db, "key:ADMIN", "t", l); }).ok());
  ASSERT_TRUE(admin([&](auto& db, auto& a) { return a.rotate_key(db, "key:ADMIN", k.record.key_id, 0); }).ok());
  ASSERT_TRUE(admin([&](auto& db, auto& a) { return a.delete_team(db, "key:ADMIN", "t"); }).ok());
  auto log = admin([&](auto& db, auto& a) { return a.audit(db, storage::AuditQuery{}); });
  ASSERT_TRUE(log.ok());
  std::vector<std::string> actions;
  for (const auto& e : *log) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"team.delete", "key.rotate", "team.update", "key.create",
                                               "team.create"}));
  EXPECT_EQ((*log)[1].actor, "key:ADMIN");
  EXPECT_EQ((*log)[1].target, k.record.key_id);
  for (const auto& e : *log) {
    EXPECT_EQ(e.detail.find(k.key), std::string::npos);
    EXPECT_EQ(e.at, clock_.wall_ms());
  }
}

TEST_F(Admin, FailedChangesLeaveNoTrace) {
  make_team("t");
  auto dup = admin([&](auto& db, auto& a) { return a.create_team(db, "x", "t", storage::TeamLimits{}); });
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::team_exists);
  KeySpec spec;
  spec.team = "nope' OR '1'='1";
  spec.name = "k";
  auto k = admin([&](auto& db, auto& a) { return a.create_key(db, "x", spec); });
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, ErrorCode::team_not_found);
  spec.team = "t";
  spec.expires_at = clock_.wall_ms() - 1;
  EXPECT_EQ(admin([&](auto& db, auto& a) { return a.create_key(db, "x", spec); }).error().code, ErrorCode::key_invalid);
  EXPECT_EQ(admin([&](auto& db, auto& a) { return a.revoke_key(db, "x", "nope"); }).error().code, ErrorCode::key_not_found);
  EXPECT_EQ(admin([&](auto& db, auto& a) { return a.rotate_key(db, "x", "nope", 0); }).error().code, ErrorCode::key_not_found);
  auto log = admin([&](auto& db, auto& a) { return a.audit(db, storage::AuditQuery{}); });
  EXPECT_EQ(log->size(), 1u);  // only the team creation
}

TEST_F(Admin, TeamViewShowsBudgetAndKeys) {
  storage::TeamLimits l;
  l.daily_token_budget = 500;
  make_team("t", l);
  IssuedKey k = make_key("t");
  make_key("t");
  auto p = principal_for(k.key);
  auto a = admit(p, 10, 40);
  ASSERT_TRUE(a.admitted());
  auto view = admin([&](auto& db, auto& ad) { return ad.get_team(db, "t"); });
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->active_keys, 2);
  EXPECT_EQ(view->budget.day.reserved, 50);
  EXPECT_EQ(view->budget.day.remaining(), 450);
  auto keys = admin([&](auto& db, auto& ad) { return ad.list_keys(db, std::string("t"), false); });
  EXPECT_EQ(keys->size(), 2u);
  auto none = admin([&](auto& db, auto& ad) { return ad.list_keys(db, std::string("zzz"), false); });
  EXPECT_EQ(none.error().code, ErrorCode::team_not_found);
  a.admission.finish({storage::UsageStatus::ok, std::nullopt, 5, 0, std::nullopt});
  drain_ledger();
  storage::UsageQuery q;
  q.team = "t";
  auto usage = admin([&](auto& db, auto& ad) { return ad.usage(db, q); });
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].completion_tokens, 5);
  EXPECT_EQ((*usage)[0].key_id, k.record.key_id);
}

}  // namespace
}  // namespace llmd::auth
