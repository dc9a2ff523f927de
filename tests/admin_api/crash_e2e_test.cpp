// kill -9 of llmd while 20 admitted requests run: after a restart the database
// passes integrity_check, every admitted request has a usage row closed as
// interrupted, and no reservation is left behind.
#include <atomic>
#include <thread>
#include <vector>

#include "storage/migrations.hpp"
#include "storage/usage_ledger.hpp"
#include "tests/admin_api/api_fixture.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

class Crash : public ApiFixture {};

int64_t scalar(storage::Database& db, storage::Sql sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(*st->step());
  return st->column_int(0);
}

TEST_F(Crash, KillNineWithTwentyRequestsInFlight) {
  std::string key = make_team_and_key("busy", R"("daily_token_budget":1000000)");
  auto target = client::parse_url(url());
  ASSERT_TRUE(target.ok());
  client::TlsOptions tls;
  tls.ca_file = (dir_ / "cert.pem").string();
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&] {
      auto r = client::https_request(*target, tls, "POST", "/test/admit",
                                     {{"authorization", "Bearer " + key}, {"content-type", "application/json"}},
                                     R"({"prompt_tokens":50,"max_tokens":200,"hold_ms":60000})", 90s);
      if (r.ok()) answered++;  // none should: the server dies first
    });
  }
  // Wait until all 20 are admitted (their rows are open).
  int in_flight = 0;
  for (int i = 0; i < 200 && in_flight < 20; ++i) {
    auto usage = call_json("GET", "/admin/v1/usage?team=busy", admin_key_);
    auto& rows = usage.at("data").as_array();
    in_flight = rows.empty() ? 0 : static_cast<int>(rows[0].at("in_flight").as_int64());
    if (in_flight < 20) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(in_flight, 20);
  crash();
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), 0);

  start();  // recovery runs before serving
  EXPECT_NE(server_->output().find("closed 20 usage rows left open by an earlier run as interrupted"),
            std::string::npos)
      << server_->output();
  auto usage = call_json("GET", "/admin/v1/usage?team=busy", admin_key_);
  auto& row = usage.at("data").as_array().at(0);
  EXPECT_EQ(row.at("requests").as_int64(), 20);
  EXPECT_EQ(row.at("interrupted").as_int64(), 20);
  EXPECT_EQ(row.at("in_flight").as_int64(), 0);
  auto team = call_json("GET", "/admin/v1/teams/busy", admin_key_);
  EXPECT_EQ(team.at("today").at("reserved").as_int64(), 0);
  EXPECT_EQ(team.at("today").at("used").as_int64(), 20 * 50);  // interrupted rows charge their prompt
  // The team can use its budget again at once.
  EXPECT_EQ(call("POST", "/test/admit", key, "{}").status, 200);
  stop();

  auto db = storage::open_database(state_dir() + "/llmd.db");
  ASSERT_TRUE(db.ok());
  auto st = (*db)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "ok");
  EXPECT_EQ(scalar(**db, "SELECT count(*) FROM usage WHERE status = 'interrupted'"), 20);
  EXPECT_EQ(scalar(**db, "SELECT count(*) FROM usage WHERE status = 'open'"), 0);
  EXPECT_EQ(scalar(**db, "SELECT coalesce(sum(reserved_tokens), 0) FROM budget_usage"), 0);
  auto check = storage::check_ledger(**db);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent()) << (check->problems.empty() ? "" : check->problems[0]);
}

}  // namespace
}  // namespace llmd::test
