#include "tests/admin_api/api_fixture.hpp"

#include <signal.h>

#include <boost/json/parse.hpp>

#include "auth/api_key.hpp"

namespace llmd::test {

using namespace std::chrono_literals;

std::string find_key(const std::string& text) {
  for (size_t at = text.find("llmd_"); at != std::string::npos; at = text.find("llmd_", at + 1)) {
    std::string candidate = text.substr(at, auth::kKeyLength);
    if (auth::parse_api_key(candidate)) return candidate;
  }
  return "";
}

void ApiFixture::SetUp() {
  write_self_signed(dir_.path());
  write_file(dir_ / "llmd.toml",
             "[metrics]\nport = 0\n[server]\naddress = \"127.0.0.1\"\nport = 0\nio_threads = 2\ndrain_timeout_s = 5\n"
             "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
             "[log]\nlevel = \"debug\"\n"
             "[paths]\nstate_dir = \"state\"\n");
  RunResult boot = run_command({LLMD_AUTH_TEST_DAEMON, "bootstrap-admin", "--config", config_path()});
  ASSERT_EQ(boot.status, 0) << boot.output;
  admin_key_ = find_key(boot.output);
  ASSERT_FALSE(admin_key_.empty()) << boot.output;
  remember_secret(admin_key_);
  // Only the key line carries the key: bootstrap logs the key id, never the key.
  size_t key_line = boot.output.find(admin_key_);
  past_logs_ += boot.output.substr(0, key_line) + boot.output.substr(key_line + admin_key_.size());
  start();
}

void ApiFixture::TearDown() {
  if (server_) stop();
  std::string all = logs();
  expect_no_secret_in(all, "the server log");
  for (const auto& body : error_bodies_) expect_no_secret_in(body, "an error body");
  EXPECT_EQ(all.find("Bearer "), std::string::npos) << "an Authorization value reached the log";
}

void ApiFixture::start() {
  server_ = Child::spawn({LLMD_AUTH_TEST_DAEMON, "serve", "--config", config_path()});
  ASSERT_TRUE(server_);
  ASSERT_TRUE(server_->wait_for_output("ready: serving https://127.0.0.1:", 20s)) << server_->output();
  const std::string& out = server_->output();
  size_t at = out.find("ready: serving https://127.0.0.1:");
  port_ = static_cast<std::uint16_t>(std::stoi(out.substr(at + std::string("ready: serving https://127.0.0.1:").size())));
}

void ApiFixture::stop() {
  server_->signal(SIGTERM);
  auto status = server_->wait_exit(30s);
  EXPECT_EQ(status, std::optional<int>(0)) << server_->output();
  server_->read_all(5s);
  past_logs_ += server_->output();
  server_.reset();
}

void ApiFixture::crash() {
  server_->signal(SIGKILL);
  server_->wait_exit(30s);
  server_->read_all(5s);
  past_logs_ += server_->output();
  server_.reset();
}

std::string ApiFixture::logs() { return past_logs_ + (server_ ? server_->output() : ""); }

client::HttpResponse ApiFixture::call(const std::string& method, const std::string& path, const std::string& key,
                                      const std::string& body, const client::HeaderList& extra) {
  auto target = client::parse_url(url());
  EXPECT_TRUE(target.ok());
  client::TlsOptions tls;
  tls.ca_file = (dir_ / "cert.pem").string();
  client::HeaderList headers = extra;
  if (!key.empty()) headers.emplace_back("authorization", "Bearer " + key);
  if (!body.empty()) headers.emplace_back("content-type", "application/json");
  auto res = client::https_request(*target, tls, method, path, headers, body);
  EXPECT_TRUE(res.ok()) << (res.ok() ? "" : res.error().message);
  if (!res.ok()) return {};
  if (res->status >= 400) error_bodies_.push_back(res->body);
  return std::move(*res);
}

boost::json::value ApiFixture::call_json(const std::string& method, const std::string& path, const std::string& key,
                                         const std::string& body, int expect_status) {
  auto res = call(method, path, key, body);
  EXPECT_EQ(res.status, expect_status) << method << " " << path << ": " << res.body;
  std::error_code ec;
  boost::json::value v = boost::json::parse(res.body, ec);
  EXPECT_FALSE(ec) << res.body;
  return v;
}

std::string ApiFixture::make_team_and_key(const std::string& team, const std::string& fields) {
  call_json("POST", "/admin/v1/teams", admin_key_,
            "{\"name\":\"" + team + "\"" + (fields.empty() ? "" : "," + fields) + "}", 201);
  auto key = call_json("POST", "/admin/v1/keys", admin_key_, "{\"team\":\"" + team + "\",\"name\":\"k\"}", 201);
  std::string k = key.is_object() && key.as_object().contains("key") ? std::string(key.at("key").as_string()) : "";
  remember_secret(k);
  return k;
}

RunResult ApiFixture::llmctl(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {LLMCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> e = {"LLMD_URL=" + url(), "LLMD_CACERT=" + (dir_ / "cert.pem").string(),
                                "LLMD_ADMIN_KEY=" + admin_key_};
  e.insert(e.end(), env.begin(), env.end());
  // llmctl's environment is only reachable through a child: run it with `env`.
  std::vector<std::string> with_env = {"/usr/bin/env"};
  with_env.insert(with_env.end(), e.begin(), e.end());
  with_env.insert(with_env.end(), argv.begin(), argv.end());
  return run_command(with_env);
}

void ApiFixture::remember_secret(const std::string& key) {
  if (key.empty()) return;
  secrets_.push_back(key);
  if (auto parsed = auth::parse_api_key(key)) secrets_.emplace_back(parsed->secret);
}

void ApiFixture::expect_no_secret_in(const std::string& text, const std::string& where) {
  for (const auto& s : secrets_) {
    EXPECT_EQ(text.find(s), std::string::npos) << "a key or secret appears in " << where;
  }
}

}  // namespace llmd::test
