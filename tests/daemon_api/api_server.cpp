#include "tests/daemon_api/api_server.hpp"

#include <signal.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <regex>
#include <thread>

#include "engine/synth/synth_model.hpp"
#include "engine/synth/synth_shapes.hpp"

namespace llmd::test {

using namespace std::chrono_literals;

namespace {

std::string find_key(const std::string& text) {
  std::smatch m;
  static const std::regex key("llmd_[A-Za-z0-9_]+");
  return std::regex_search(text, m, key) ? m.str() : "";
}

}  // namespace

engine::synth::SynthShape slow_shape(const std::string& name, int n_ctx) {
  engine::synth::SynthShape s;
  s.name = name;
  s.n_vocab = 512;
  s.n_embd = 1024;
  s.n_layer = 4;
  s.n_head = 8;
  s.n_head_kv = 4;
  s.n_ff = 2816;
  s.n_ctx = n_ctx;
  return s;
}

std::string http_post(const std::string& path, const std::string& body, const std::string& key) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

ApiServer::ApiServer(const ApiServerOptions& options) { start(options); }

void ApiServer::start(const ApiServerOptions& options) {
  binary_ = options.binary;
  env_ = options.env;
  write_self_signed(dir_.path());
  const engine::synth::SynthShape* shape =
      options.custom_shape.name.empty() ? engine::synth::find_synth_shape(options.shape) : &options.custom_shape;
  ASSERT_NE(shape, nullptr) << options.shape;
  engine::synth::SynthOptions so;
  so.type = options.weight_type;
  so.threads = 1;
  so.control_tokens = options.control_tokens;
  ASSERT_TRUE(engine::synth::write_synth_model(*shape, so, (dir_ / "synth.gguf").string()));
  for (const auto& [name, content] : options.files) write_file(dir_ / name, content);
  // Servers of parallel tests must not share the default metrics port.
  const std::string metrics =
      options.tables.find("[metrics]") == std::string::npos ? "[metrics]\nport = 0\n" : "";
  write_file(dir_ / "llmd.toml",
             metrics + "[server]\naddress = \"127.0.0.1\"\nport = 0\nio_threads = 2\ndrain_timeout_s = " +
             std::to_string(options.drain_timeout_s) + "\n"
             "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
             "[limits]\n" + options.limits + "[api]\n" + options.api +
             "[log]\nlevel = \"info\"\n"
             "[paths]\nstate_dir = \"state\"\nmodel_dirs = [\".\"]\n" + options.tables +
             "[[models]]\nname = \"synth\"\npath = \"synth.gguf\"\naliases = [\"test/synth\"]\nthreads = 1\n"
             "max_sequences = " + std::to_string(options.max_sequences) + "\n" + options.models_extra);
  config_ = (dir_ / "llmd.toml").string();
  RunResult boot = run_command({LLMD_BIN, "bootstrap-admin", "--config", config_});
  ASSERT_EQ(boot.status, 0) << boot.output;
  admin_key_ = find_key(boot.output);
  ASSERT_FALSE(admin_key_.empty()) << boot.output;
  ASSERT_TRUE(spawn_server());

  auto team = call("POST", "/admin/v1/teams", R"({"name":"api","weight":1})", &admin_key_);
  ASSERT_EQ(team.status, 201) << team.body;
  auto key = call("POST", "/admin/v1/keys", R"({"team":"api","name":"tests","role":"user"})", &admin_key_);
  ASSERT_EQ(key.status, 201) << key.body;
  user_key_ = find_key(key.body);
  ASSERT_FALSE(user_key_.empty()) << key.body;
  ok_ = true;
}

bool ApiServer::spawn_server() {
  server_ = Child::spawn({binary_.empty() ? std::string(LLMD_BIN) : binary_, "serve", "--config", config_}, env_);
  EXPECT_TRUE(server_);
  if (!server_) return false;
  const std::string ready = "ready: serving https://127.0.0.1:";
  const bool up = server_->wait_for_output(ready, 60s);
  EXPECT_TRUE(up) << server_->output();
  if (!up) return false;
  const std::string& out = server_->output();
  port_ = static_cast<std::uint16_t>(std::stoi(out.substr(out.find(ready) + ready.size())));
  return true;
}

std::string ApiServer::make_team_key(const std::string& team_json) {
  auto team = call("POST", "/admin/v1/teams", team_json, &admin_key_);
  EXPECT_EQ(team.status, 201) << team.body;
  std::error_code ec;
  boost::json::value t = boost::json::parse(team.body, ec);
  if (ec || !t.is_object() || !t.as_object().contains("name") || !t.at("name").is_string()) {
    ADD_FAILURE() << "team creation answered " << team.body;
    return "";
  }
  const std::string name(t.at("name").as_string());
  auto key = call("POST", "/admin/v1/keys", R"({"team":")" + name + R"(","name":"k","role":"user"})", &admin_key_);
  EXPECT_EQ(key.status, 201) << key.body;
  return find_key(key.body);
}

void ApiServer::stop() {
  if (!server_) return;
  server_->signal(SIGTERM);
  auto status = server_->wait_exit(30s);
  EXPECT_EQ(status, std::optional<int>(0)) << server_->output();
  server_->read_all(5s);
  past_logs_ += server_->output();
  server_.reset();
}

void ApiServer::signal(int sig) {
  if (server_) server_->signal(sig);
}

bool ApiServer::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) {
  return server_ && server_->wait_for_output(needle, timeout);
}

void ApiServer::crash() {
  if (!server_) return;
  server_->signal(SIGKILL);
  server_->wait_exit(30s);
  server_->read_all(5s);
  past_logs_ += server_->output();
  server_.reset();
}

bool ApiServer::restart() { return spawn_server(); }

std::optional<int> ApiServer::wait_exit(std::chrono::milliseconds timeout) {
  if (!server_) return std::nullopt;
  auto status = server_->wait_exit(timeout);
  if (status) {  // gone: nothing left for stop() to check
    server_->read_all(5s);
    past_logs_ += server_->output();
    server_.reset();
  }
  return status;
}

ApiServer::~ApiServer() {
  stop();
  if (!user_key_.empty()) {
    EXPECT_EQ(past_logs_.find(user_key_), std::string::npos) << "the user key reached the log";
  }
}

client::HttpResponse ApiServer::call(const std::string& method, const std::string& path, const std::string& body,
                                     const std::string* key) {
  auto url = client::parse_url("https://127.0.0.1:" + std::to_string(port_));
  EXPECT_TRUE(url.ok());
  client::TlsOptions tls;
  tls.ca_file = (dir_ / "cert.pem").string();
  client::HeaderList headers;
  headers.emplace_back("authorization", "Bearer " + (key ? *key : user_key_));
  if (!body.empty()) headers.emplace_back("content-type", "application/json");
  auto res = client::https_request(*url, tls, method, path, headers, body);
  EXPECT_TRUE(res.ok()) << (res.ok() ? "" : res.error().message);
  return res.ok() ? std::move(*res) : client::HttpResponse{};
}

boost::json::object ApiServer::model_stats() {
  auto res = call("GET", "/admin/v1/stats", "", &admin_key_);
  EXPECT_EQ(res.status, 200) << res.body;
  std::error_code ec;
  boost::json::value v = boost::json::parse(res.body, ec);
  if (ec || !v.is_object()) return {};
  for (const auto& m : v.at("models").as_array()) {
    if (m.at("id").as_string() == kSynthModel) return m.as_object();
  }
  return {};
}

int64_t ApiServer::kv_blocks_used() {
  boost::json::object s = model_stats();
  return s.contains("kv_cache") ? s.at("kv_cache").at("blocks_used").as_int64() : -1;
}

bool ApiServer::wait_stats(const std::function<bool(const boost::json::object&)>& pred,
                           std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    boost::json::object s = model_stats();
    if (pred(s)) return true;
    if (std::chrono::steady_clock::now() >= until) {
      ADD_FAILURE() << "the last stats seen: " << boost::json::serialize(s);
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
}

std::unique_ptr<Conn> ApiServer::send(const std::string& path, const std::string& body) {
  std::string error;
  auto c = Conn::tls(port_, {}, &error);
  EXPECT_TRUE(c) << error;
  if (!c) return c;
  EXPECT_TRUE(c->send(http_post(path, body, user_key_)));
  return c;
}

}  // namespace llmd::test
