// The admin REST API and llmctl against a real llmd over TLS: the contract, the
// key lifecycle, 401/403 rules, hostile input, bad admin input.
#include <boost/json/parse.hpp>

#include <thread>

#include "tests/admin_api/api_fixture.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class AdminApi : public ApiFixture {};

std::string str(const json::value& v, const char* field) {
  const json::value* f = v.is_object() ? v.as_object().if_contains(field) : nullptr;
  return f && f->is_string() ? std::string(f->as_string()) : "";
}

TEST_F(AdminApi, ContractAndKeyLifecycleThroughRest) {
  auto team = call_json("POST", "/admin/v1/teams", admin_key_, R"({"name":"research","weight":2})", 201);
  EXPECT_EQ(str(team, "name"), "research");
  EXPECT_EQ(team.at("weight").to_number<double>(), 2.0);

  auto key = call_json("POST", "/admin/v1/keys", admin_key_, R"({"team":"research","name":"alice","role":"user"})", 201);
  std::string id = str(key, "id");
  std::string user_key = str(key, "key");
  remember_secret(user_key);
  ASSERT_EQ(user_key.size(), 71u);
  EXPECT_EQ(user_key.substr(5, 16), id);
  EXPECT_EQ(str(key, "role"), "user");

  // A user key works on API routes and is refused on admin routes.
  EXPECT_EQ(call("POST", "/test/admit", user_key, R"({"prompt_tokens":7,"max_tokens":20,"completion_tokens":4})").status, 200);
  auto forbidden = call("GET", "/admin/v1/teams", user_key);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(forbidden.body.find("insufficient_permissions"), std::string::npos);

  // Listings never carry the key.
  auto list = call("GET", "/admin/v1/keys?team=research", admin_key_);
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(id), std::string::npos);
  EXPECT_EQ(list.body.find(user_key), std::string::npos);
  EXPECT_EQ(list.body.find("\"key\""), std::string::npos);

  // Usage as JSON rows and as CSV.
  auto usage = call_json("GET", "/admin/v1/usage?team=research", admin_key_);
  auto& rows = usage.at("data").as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("requests").as_int64(), 1);
  EXPECT_EQ(rows[0].at("prompt_tokens").as_int64(), 7);
  EXPECT_EQ(rows[0].at("completion_tokens").as_int64(), 4);
  EXPECT_EQ(str(rows[0], "key_id"), id);
  auto csv = call("GET", "/admin/v1/usage?team=research", admin_key_, "", {{"accept", "text/csv"}});
  EXPECT_EQ(csv.status, 200);
  EXPECT_NE(csv.header("content-type").find("text/csv"), std::string::npos);
  EXPECT_EQ(csv.body.rfind("day,team,key_id,", 0), 0u) << csv.body;
  EXPECT_NE(csv.body.find(",research," + id + ",alice,test-model,1,"), std::string::npos) << csv.body;

  // Revocation: 401 at once.
  auto revoked = call_json("DELETE", "/admin/v1/keys/" + id, admin_key_);
  EXPECT_EQ(str(revoked, "status"), "revoked");
  auto after = call("POST", "/test/admit", user_key, "{}");
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(call("DELETE", "/admin/v1/keys/" + id, admin_key_).status, 404);

  // The audit log saw it all.
  auto audit = call("GET", "/admin/v1/audit", admin_key_);
  for (const char* action : {"team.create", "key.create", "key.revoke"}) {
    EXPECT_NE(audit.body.find(action), std::string::npos) << action;
  }
}

TEST_F(AdminApi, KeyLifecycleThroughLlmctl) {
  auto made = llmctl({"teams", "create", "ml", "--weight", "3", "--rpm", "100", "--daily-budget", "100000"});
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_NE(made.output.find("daily budget:   100000"), std::string::npos) << made.output;
  auto teams = llmctl({"teams", "list"});
  ASSERT_EQ(teams.status, 0) << teams.output;
  EXPECT_NE(teams.output.find("NAME"), std::string::npos);
  EXPECT_NE(teams.output.find("ml "), std::string::npos);

  auto created = llmctl({"keys", "create", "--team", "ml", "--name", "bob"});
  ASSERT_EQ(created.status, 0) << created.output;
  std::string key = find_key(created.output);
  remember_secret(key);
  ASSERT_FALSE(key.empty()) << created.output;
  EXPECT_NE(created.output.find("shown only this once"), std::string::npos);
  std::string id = key.substr(5, 16);
  EXPECT_EQ(call("POST", "/test/admit", key, "{}").status, 200);

  auto listed = llmctl({"keys", "list", "--team", "ml"});
  EXPECT_NE(listed.output.find(id), std::string::npos);
  EXPECT_EQ(find_key(listed.output), "");

  auto rotated = llmctl({"keys", "rotate", id});
  ASSERT_EQ(rotated.status, 0) << rotated.output;
  std::string key2 = find_key(rotated.output);
  remember_secret(key2);
  ASSERT_FALSE(key2.empty());
  EXPECT_EQ(call("POST", "/test/admit", key, "{}").status, 401);
  EXPECT_EQ(call("POST", "/test/admit", key2, "{}").status, 200);

  auto revoked = llmctl({"keys", "revoke", key2.substr(5, 16)});
  ASSERT_EQ(revoked.status, 0) << revoked.output;
  EXPECT_EQ(call("POST", "/test/admit", key2, "{}").status, 401);

  auto usage = llmctl({"usage", "--team", "ml", "--csv"});
  ASSERT_EQ(usage.status, 0) << usage.output;
  EXPECT_NE(usage.output.find(",ml," + id + ",bob,"), std::string::npos) << usage.output;
  auto table = llmctl({"usage", "--team", "ml"});
  EXPECT_NE(table.output.find("REQUESTS"), std::string::npos);

  auto audit = llmctl({"audit"});
  EXPECT_NE(audit.output.find("key.rotate"), std::string::npos) << audit.output;

  // Without trusting the self-signed certificate llmctl refuses to talk.
  auto untrusted = llmctl({"teams", "list"}, {"LLMD_CACERT="});
  EXPECT_EQ(untrusted.status, 1);
  EXPECT_NE(untrusted.output.find("--cacert"), std::string::npos) << untrusted.output;
  // A user key is not enough for llmctl either.
  auto as_user = llmctl({"teams", "list"}, {"LLMD_ADMIN_KEY=" + key});
  EXPECT_EQ(as_user.status, 1);
}

TEST_F(AdminApi, ExpiredKeyIsRefusedWithinFiveSeconds) {
  call_json("POST", "/admin/v1/teams", admin_key_, R"({"name":"t"})", 201);
  int64_t expires = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count() + 2;
  auto key = call_json("POST", "/admin/v1/keys", admin_key_,
                       R"({"team":"t","name":"short","expires_at":)" + std::to_string(expires) + "}", 201);
  std::string k = str(key, "key");
  remember_secret(k);
  EXPECT_EQ(call("POST", "/test/admit", k, "{}").status, 200);
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::seconds(expires)));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = call("POST", "/test/admit", k, "{}").status;
    if (status == 401) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 401);
}

TEST_F(AdminApi, HostileKeysAre401WithoutSqlErrors) {
  const std::vector<std::string> authorizations = {
      "Bearer ' OR '1'='1", "Bearer 'OR'1'='1", "Bearer llmd_'OR'1'='1'--", "Bearer \"; DROP TABLE api_keys; --",
      "Bearer " + std::string(500, 'A'), "Basic YWRtaW46YWRtaW4=", "Bearer", "bearer llmd_%",
      // The admin key with one character changed (to one it does not have there).
      "Bearer " + admin_key_.substr(0, 70) + (admin_key_.size() > 70 && admin_key_[70] == 'X' ? "Y" : "X")};
  for (const auto& a : authorizations) {
    auto r = call("GET", "/admin/v1/teams", "", "", {{"authorization", a}});
    EXPECT_EQ(r.status, 401) << a;
    EXPECT_NE(r.header("www-authenticate"), "");
    EXPECT_EQ(r.body.find("OR '1'"), std::string::npos);  // the presented value is never echoed
  }
  auto x = call("POST", "/test/admit", "", "{}", {{"x-api-key", "' OR 1=1 --"}});
  EXPECT_EQ(x.status, 401);
  auto none = call("POST", "/test/admit", "", "{}");
  EXPECT_EQ(none.status, 401);
  // The admin key still works and the database is intact.
  auto teams = call_json("GET", "/admin/v1/teams", admin_key_);
  EXPECT_EQ(teams.at("data").as_array().size(), 1u);
  std::string log = logs();
  EXPECT_EQ(log.find("<3>"), std::string::npos) << log;
  EXPECT_EQ(log.find("SQL"), std::string::npos);
  EXPECT_EQ(log.find("sqlite"), std::string::npos);
}

TEST_F(AdminApi, BadAdminInputIsRefusedClearly) {
  struct Case {
    const char* method;
    const char* path;
    std::string body;
    int status;
  };
  call_json("POST", "/admin/v1/teams", admin_key_, R"({"name":"t"})", 201);
  const Case cases[] = {
      {"POST", "/admin/v1/teams", "{not json", 400},
      {"POST", "/admin/v1/teams", R"({"name":"x","wieght":2})", 400},
      {"POST", "/admin/v1/teams", R"({"name":"x","weight":"heavy"})", 400},
      {"POST", "/admin/v1/teams", R"({"name":"x","weight":-1})", 400},
      {"POST", "/admin/v1/teams", R"({"name":"x","rpm_limit":1.5})", 400},
      {"POST", "/admin/v1/teams", R"({"name":"bad name'"})", 400},
      {"POST", "/admin/v1/teams", R"([1,2,3])", 400},
      {"POST", "/admin/v1/teams", R"({"name":"t"})", 409},
      {"POST", "/admin/v1/teams", std::string(70000, '['), 413},
      {"PATCH", "/admin/v1/teams/nope", R"({"weight":2})", 404},
      {"POST", "/admin/v1/keys", R"({"team":"nope","name":"k"})", 404},
      {"POST", "/admin/v1/keys", R"({"team":"t","name":"k","role":"root"})", 400},
      {"POST", "/admin/v1/keys", R"({"team":"t"})", 400},
      {"POST", "/admin/v1/keys", R"({"team":"t","name":"k","expires_at":1})", 400},
      {"GET", "/admin/v1/usage?from=yesterday", "", 400},
      {"GET", "/admin/v1/audit?limit=-4", "", 400},
      {"POST", "/admin/v1/keys/nope/rotate", "", 404},
      {"PUT", "/admin/v1/teams", "{}", 405},
  };
  for (const Case& c : cases) {
    auto r = call(c.method, c.path, admin_key_, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 40) << ": " << r.body;
    if (r.status >= 400) {
      EXPECT_NE(r.body.find("\"error\""), std::string::npos);
    }
  }
  auto patched = call_json("PATCH", "/admin/v1/teams/t", admin_key_, R"({"rpm_limit":5,"allowed_models":["a"]})");
  EXPECT_EQ(patched.at("rpm_limit").as_int64(), 5);
  auto cleared = call_json("PATCH", "/admin/v1/teams/t", admin_key_, R"({"rpm_limit":null})");
  EXPECT_TRUE(cleared.at("rpm_limit").is_null());
  EXPECT_EQ(cleared.at("allowed_models").as_array().size(), 1u);
  EXPECT_EQ(logs().find("<3>"), std::string::npos) << logs();
}

TEST_F(AdminApi, OnlyHealthAndReadinessAreOpen) {
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(call("GET", "/readyz", "").status, 200);
  auto r = call("GET", "/admin/v1/usage", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("invalid_api_key"), std::string::npos);
}

// The web console's files need no key (they hold no data) and carry a strict
// CSP; the admin API they call still does.
TEST_F(AdminApi, ConsoleFilesAreOpenWithStrictHeadersButItsDataIsNot) {
  auto page = call("GET", "/admin/", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type").rfind("text/html", 0), 0u);
  EXPECT_NE(page.body.find(">Admin key</label>"), std::string::npos);
  EXPECT_NE(page.body.find("src=\"assets/app.js\""), std::string::npos);
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  const std::string csp(page.header("content-security-policy"));
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;

  auto js = call("GET", "/admin/assets/app.js", "");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("content-type").rfind("text/javascript", 0), 0u);
  EXPECT_EQ(js.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(call("GET", "/admin/assets/uPlot.iife.min.js", "").status, 200);
  EXPECT_EQ(call("GET", "/admin/assets/missing.js", "").status, 404);
  EXPECT_EQ(call("GET", "/admin/assets/..%2Fllmd.toml", "").status, 404);
  auto redirect = call("GET", "/admin", "");
  EXPECT_EQ(redirect.status, 308);
  EXPECT_EQ(redirect.header("location"), "/admin/");
  EXPECT_EQ(call("POST", "/admin/", "", "{}").status, 405);

  EXPECT_EQ(call("GET", "/admin/v1/devices", "").status, 401);
}

TEST_F(AdminApi, ASecondServerOnTheSameStateDirectoryIsRefused) {
  RunResult second = run_command({LLMD_AUTH_TEST_DAEMON, "serve", "--config", config_path()}, 20s);
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.output.find("another llmd is already using the state directory"), std::string::npos)
      << second.output;
  past_logs_ += second.output;
  // bootstrap-admin may run beside a server; with a key present it declines.
  RunResult again = run_command({LLMD_AUTH_TEST_DAEMON, "bootstrap-admin", "--config", config_path()});
  EXPECT_EQ(again.status, 3) << again.output;
  EXPECT_EQ(find_key(again.output), "");
  past_logs_ += again.output;
}

}  // namespace
}  // namespace llmd::test
