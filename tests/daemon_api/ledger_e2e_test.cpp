// The usage ledger and the team limits under real completions from the
// production llmd: kill -9 while 20 streams are generating, a budget that
// covers exactly one of 50 concurrent requests, and a per-team RPM limit that
// leaves other teams alone.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/migrations.hpp"
#include "storage/usage_ledger.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

int64_t scalar(storage::Database& db, storage::Sql sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.ok());
  if (!st.ok()) return -1;
  auto row = st->step();
  EXPECT_TRUE(row.ok() && *row);
  return st->column_int(0);
}

boost::json::value json_of(const client::HttpResponse& r) {
  std::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v;
}

// The usage report's first row for `team` (empty when it has none).
boost::json::object usage_row(ApiServer& server, const std::string& team) {
  auto res = server.call("GET", "/admin/v1/usage?team=" + team, "", &server.admin_key());
  EXPECT_EQ(res.status, 200) << res.body;
  boost::json::value v = json_of(res);
  if (!v.is_object() || v.at("data").as_array().empty()) return {};
  return v.at("data").as_array()[0].as_object();
}

boost::json::object team_view(ApiServer& server, const std::string& team) {
  auto res = server.call("GET", "/admin/v1/teams/" + team, "", &server.admin_key());
  EXPECT_EQ(res.status, 200) << res.body;
  boost::json::value v = json_of(res);
  return v.is_object() ? v.as_object() : boost::json::object{};
}

// Reads the response head and the first SSE event of a stream.
void read_first_event(Conn& c) {
  auto head = read_head(c);
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  std::string data;
  while (data.find("\n\n") == std::string::npos) {
    auto chunk = read_chunk(c);
    ASSERT_TRUE(chunk && !chunk->empty()) << "the stream ended early";
    data += *chunk;
  }
  ASSERT_EQ(data.rfind("data: {", 0), 0u) << data;
}

// A synthetic model big enough (about 50 MB in q8_0) that 20 streams of 480
// tokens each take many seconds on one thread.
TEST(Ledger, KillNineWhileTwentyStreamsRunLeavesAConsistentLedger) {
  ApiServerOptions opts;
  opts.custom_shape = slow_shape("test-slow");
  opts.weight_type = "q8_0";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  const std::string key = server.make_team_key(R"({"name":"busy","weight":1,"daily_token_budget":1000000})");
  ASSERT_FALSE(key.empty());

  std::vector<std::unique_ptr<Conn>> streams;
  for (int i = 0; i < 20; ++i) {
    std::string error;
    auto c = Conn::tls(server.port(), {}, &error);
    ASSERT_TRUE(c) << error;
    const std::string body = R"({"model":"synth","messages":[{"role":"user","content":"Story )" + std::to_string(i) +
                             R"("}],"max_tokens":480,"ignore_eos":true,"stream":true})";
    ASSERT_TRUE(c->send(http_post("/v1/chat/completions", body, key)));
    streams.push_back(std::move(c));
  }
  // Every stream is generating: its first event has arrived.
  for (auto& c : streams) ASSERT_NO_FATAL_FAILURE(read_first_event(*c));
  boost::json::object row = usage_row(server, "busy");
  ASSERT_FALSE(row.empty());
  ASSERT_EQ(row.at("in_flight").as_int64(), 20) << "some stream finished before the kill";
  const int64_t reserved = team_view(server, "busy").at("today").at("reserved").as_int64();
  EXPECT_GT(reserved, 20 * 480);

  server.crash();
  streams.clear();
  ASSERT_TRUE(server.restart());  // recovery runs before serving
  EXPECT_NE(server.logs().find("closed 20 usage rows left open by an earlier run as interrupted"), std::string::npos)
      << server.logs();
  row = usage_row(server, "busy");
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(row.at("requests").as_int64(), 20);
  EXPECT_EQ(row.at("interrupted").as_int64(), 20);
  EXPECT_EQ(row.at("in_flight").as_int64(), 0);
  boost::json::object team = team_view(server, "busy");
  EXPECT_EQ(team.at("today").at("reserved").as_int64(), 0);
  // Interrupted requests are charged what the ledger holds for them: their
  // prompts (progress is not written while a request runs).
  EXPECT_GT(row.at("prompt_tokens").as_int64(), 0);
  EXPECT_EQ(team.at("today").at("used").as_int64(),
            row.at("prompt_tokens").as_int64() + row.at("completion_tokens").as_int64());

  // The team is served again at once.
  auto again = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"Hello","max_tokens":4})", &key);
  EXPECT_EQ(again.status, 200) << again.body;
  server.stop();

  auto db = storage::open_database(server.database_path());
  ASSERT_TRUE(db.ok()) << db.error().message;
  auto st = (*db)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "ok");
  EXPECT_EQ(scalar(**db, "SELECT count(*) FROM usage WHERE status = 'interrupted'"), 20);
  EXPECT_EQ(scalar(**db, "SELECT count(*) FROM usage WHERE status = 'open'"), 0);
  EXPECT_EQ(scalar(**db, "SELECT coalesce(sum(reserved_tokens), 0) FROM budget_usage"), 0);
  auto check = storage::check_ledger(**db);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent()) << (check->problems.empty() ? "" : check->problems[0]);
}

TEST(Ledger, FiftyConcurrentCompletionsAgainstABudgetForOneAdmitExactlyOne) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string body = R"({"model":"synth","prompt":"Hello there","max_tokens":8,"ignore_eos":true})";
  // The prompt's token count, from a probe on the default team.
  auto probe = server.call("POST", "/v1/completions", body);
  ASSERT_EQ(probe.status, 200) << probe.body;
  const int64_t prompt_tokens = json_of(probe).at("usage").at("prompt_tokens").as_int64();
  const int64_t one = prompt_tokens + 8;
  const std::string key = server.make_team_key(R"({"name":"tight","weight":1,"daily_token_budget":)" +
                                               std::to_string(one) + "}");
  ASSERT_FALSE(key.empty());

  std::atomic<int> ok{0}, quota{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      auto r = server.call("POST", "/v1/completions", body, &key);
      if (r.status == 200) {
        ok++;
      } else if (r.status == 429 && r.body.find("\"code\":\"insufficient_quota\"") != std::string::npos &&
                 !r.header("retry-after").empty()) {
        quota++;
      } else {
        other++;
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(quota.load(), 49);
  EXPECT_EQ(other.load(), 0);

  boost::json::object row = usage_row(server, "tight");
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(row.at("requests").as_int64(), 1);
  EXPECT_EQ(row.at("total_tokens").as_int64(), one);
  boost::json::object team = team_view(server, "tight");
  EXPECT_EQ(team.at("today").at("used").as_int64(), one);
  EXPECT_EQ(team.at("today").at("reserved").as_int64(), 0);
  EXPECT_EQ(team.at("today").at("remaining").as_int64(), 0);
  server.stop();

  auto db = storage::open_database(server.database_path());
  ASSERT_TRUE(db.ok());
  auto check = storage::check_ledger(**db);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent()) << (check->problems.empty() ? "" : check->problems[0]);
  EXPECT_EQ(check->open_rows, 0);
}

TEST(Ledger, RpmLimitOnCompletionsLeavesOtherTeamsServed) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string a = server.make_team_key(R"({"name":"alpha","weight":1,"rpm_limit":2})");
  const std::string b = server.make_team_key(R"({"name":"beta","weight":1,"rpm_limit":2})");
  const std::string body = R"({"model":"synth","prompt":"Hi","max_tokens":2})";
  auto first = server.call("POST", "/v1/completions", body, &a);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(server.call("POST", "/v1/completions", body, &a).status, 200);
  auto limited = server.call("POST", "/v1/chat/completions",
                             R"({"model":"synth","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})", &a);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_NE(limited.body.find("\"code\":\"rate_limit_exceeded\""), std::string::npos) << limited.body;
  EXPECT_FALSE(limited.header("retry-after").empty());
  EXPECT_EQ(server.call("POST", "/v1/completions", body, &b).status, 200);
  EXPECT_EQ(server.call("POST", "/v1/completions", body, &b).status, 200);
}

}  // namespace
}  // namespace llmd::test
