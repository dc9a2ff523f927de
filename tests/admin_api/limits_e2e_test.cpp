// Rate limits and budgets end to end: 429s with the right code, Retry-After and
// x-ratelimit-* headers, team isolation, and exactly one admission out of 50
// concurrent requests against a budget for one.
#include <atomic>
#include <thread>
#include <vector>

#include "storage/migrations.hpp"
#include "storage/usage_ledger.hpp"
#include "tests/admin_api/api_fixture.hpp"
#include "tests/daemon/kit/conn.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

class Limits : public ApiFixture {};

TEST_F(Limits, RpmExceededIs429WithRetryAfterWhileAnotherTeamIsServed) {
  std::string a = make_team_and_key("alpha", R"("rpm_limit":2)");
  std::string b = make_team_and_key("beta", R"("rpm_limit":2)");
  auto first = call("POST", "/test/admit", a, "{}");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(first.header("x-ratelimit-remaining-requests"), "1");
  EXPECT_EQ(call("POST", "/test/admit", a, "{}").status, 200);
  auto limited = call("POST", "/test/admit", a, "{}");
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("\"code\":\"rate_limit_exceeded\""), std::string::npos) << limited.body;
  int retry = limited.header("retry-after").empty() ? 0 : std::stoi(limited.header("retry-after"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 30);
  EXPECT_EQ(limited.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_FALSE(limited.header("x-ratelimit-reset-requests").empty());
  // The other team is unaffected.
  EXPECT_EQ(call("POST", "/test/admit", b, "{}").status, 200);
  EXPECT_EQ(call("POST", "/test/admit", b, "{}").status, 200);
}

TEST_F(Limits, FiftyConcurrentAgainstABudgetForOneAdmitExactlyOne) {
  std::string key = make_team_and_key("tight", R"("daily_token_budget":100)");
  std::atomic<int> ok{0}, quota{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  auto target = client::parse_url(url());
  ASSERT_TRUE(target.ok());
  client::TlsOptions tls;
  tls.ca_file = (dir_ / "cert.pem").string();
  std::mutex bodies_mu;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      auto r = client::https_request(*target, tls, "POST", "/test/admit",
                                     {{"authorization", "Bearer " + key}, {"content-type", "application/json"}},
                                     R"({"prompt_tokens":10,"max_tokens":90,"completion_tokens":30,"hold_ms":300})");
      if (!r.ok()) {
        other++;
        return;
      }
      if (r->status == 200) {
        ok++;
      } else if (r->status == 429 && r->body.find("\"code\":\"insufficient_quota\"") != std::string::npos &&
                 !r->header("retry-after").empty()) {
        quota++;
      } else {
        other++;
      }
      std::lock_guard lock(bodies_mu);
      if (r->status >= 400) error_bodies_.push_back(r->body);
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(quota.load(), 49);
  EXPECT_EQ(other.load(), 0);

  auto usage = call_json("GET", "/admin/v1/usage?team=tight", admin_key_);
  ASSERT_EQ(usage.at("data").as_array().size(), 1u);
  EXPECT_EQ(usage.at("data").as_array()[0].at("requests").as_int64(), 1);
  EXPECT_EQ(usage.at("data").as_array()[0].at("total_tokens").as_int64(), 40);
  auto team = call_json("GET", "/admin/v1/teams/tight", admin_key_);
  EXPECT_EQ(team.at("today").at("used").as_int64(), 40);
  EXPECT_EQ(team.at("today").at("reserved").as_int64(), 0);
  EXPECT_EQ(team.at("today").at("remaining").as_int64(), 60);

  stop();
  auto db = storage::open_database(state_dir() + "/llmd.db");
  ASSERT_TRUE(db.ok());
  auto check = storage::check_ledger(**db);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent());
  EXPECT_EQ(check->open_rows, 0);
}

TEST_F(Limits, AClientThatGoesAwayIsChargedForWhatWasProduced) {
  std::string key = make_team_and_key("flaky", R"("daily_token_budget":100000)");
  {
    std::string error;
    auto conn = Conn::tls(port_, {}, &error);
    ASSERT_TRUE(conn) << error;
    std::string body = R"({"prompt_tokens":20,"max_tokens":500,"completion_tokens":60,"hold_ms":20000})";
    ASSERT_TRUE(conn->send("POST /test/admit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
                           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\n\r\n" + body));
    int in_flight = 0;
    for (int i = 0; i < 200 && in_flight == 0; ++i) {
      auto usage = call_json("GET", "/admin/v1/usage?team=flaky", admin_key_);
      auto& rows = usage.at("data").as_array();
      in_flight = rows.empty() ? 0 : static_cast<int>(rows[0].at("in_flight").as_int64());
      if (in_flight == 0) std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(in_flight, 1);
  }  // the client closes the connection mid-request
  int cancelled = 0;
  boost::json::value row;
  for (int i = 0; i < 200 && cancelled == 0; ++i) {
    auto usage = call_json("GET", "/admin/v1/usage?team=flaky", admin_key_);
    row = usage.at("data").as_array().at(0);
    cancelled = static_cast<int>(row.at("cancelled").as_int64());
    if (cancelled == 0) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(cancelled, 1);
  EXPECT_EQ(row.at("completion_tokens").as_int64(), 30);  // what the test route had produced
  EXPECT_EQ(row.at("total_tokens").as_int64(), 50);
  auto team = call_json("GET", "/admin/v1/teams/flaky", admin_key_);
  EXPECT_EQ(team.at("today").at("reserved").as_int64(), 0);
  EXPECT_EQ(team.at("today").at("used").as_int64(), 50);
}

TEST_F(Limits, TeamsAreHeldToTheirModels) {
  std::string key = make_team_and_key("narrow", R"("allowed_models":["small"])");
  EXPECT_EQ(call("POST", "/test/admit", key, R"({"model":"small"})").status, 200);
  auto r = call("POST", "/test/admit", key, R"({"model":"large"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("model_not_allowed"), std::string::npos);
}

}  // namespace
}  // namespace llmd::test
