// A real llmd (the production binary) serving a small synthetic model over
// TLS for the API tests: self-signed certificate, config on an ephemeral port,
// the first admin key from `llmd bootstrap-admin`, and a team with a user key
// made through the admin API. Helpers call it with a verifying HTTPS client,
// open raw TLS connections for streams, and read the engine statistics.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/synth/synth_shapes.hpp"
#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/files.hpp"
#include "tools/llmctl/https_client.hpp"

namespace llmd::test {

inline constexpr const char* kSynthModel = "synth";  // its id; the model has a 512-token context

struct ApiServerOptions {
  int max_sequences = 32;
  // The synthetic model: a named shape from engine/synth, or `custom_shape`
  // when it has a name (a bigger model makes generations last long enough
  // to interrupt), and the weight type.
  std::string shape = "test-llama";
  engine::synth::SynthShape custom_shape;
  std::string weight_type = "f32";
  std::vector<std::string> control_tokens;  // the model's last ids (engine::synth::SynthOptions)
  std::string models_extra;      // more keys for the [[models]] table ("max_sequences = 1\n")
  std::string limits;            // the [limits] table's keys
  std::string api;               // the [api] table's keys
  std::string tables;            // more tables before [[models]] ("[devices]\ncpu_partitions = 2\n")
  // Files written into the server's folder (its model directory) before it starts.
  std::vector<std::pair<std::string, std::string>> files;
  int drain_timeout_s = 5;       // [server] drain_timeout_s
  std::string binary;            // the llmd to run; empty: the production binary
  std::vector<std::string> env;  // its extra environment ("NAME=value")
};

class ApiServer {
 public:
  explicit ApiServer(const ApiServerOptions& options = {});
  ~ApiServer();

  bool ok() const { return ok_; }  // started; otherwise the test has failed already
  std::uint16_t port() const { return port_; }
  const std::string& user_key() const { return user_key_; }
  const std::string& admin_key() const { return admin_key_; }

  // One request over a verified TLS connection with the user key (or `key`).
  client::HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                            const std::string* key = nullptr);
  // The engine counters of the synthetic model (GET /admin/v1/stats).
  boost::json::object model_stats();
  int64_t kv_blocks_used();
  // Waits until `pred(model_stats())` holds, up to `timeout`. True when it did.
  bool wait_stats(const std::function<bool(const boost::json::object&)>& pred, std::chrono::milliseconds timeout);

  // A raw TLS connection with a request sent on it (streams, disconnects).
  std::unique_ptr<Conn> send(const std::string& path, const std::string& body);

  std::string logs() { return past_logs_ + (server_ ? server_->output() : std::string()); }

  // Creates a team (`team_json`: the body of POST /admin/v1/teams) and returns
  // a user key for it.
  std::string make_team_key(const std::string& team_json);
  // kill -9 of the server, then a fresh start on the same state directory.
  void crash();
  bool restart();
  // Stops the server with SIGTERM and waits for its clean exit.
  void stop();
  // Sends `sig` to the running server and returns at once (SIGHUP: reload
  // its config file; SIGTERM: drain, see wait_exit()).
  void signal(int sig);
  // Waits until the server's output holds `needle`. True when it does.
  bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout);
  // The config file the server runs with (tests rewrite it for a reload).
  const std::string& config_path() const { return config_; }
  // Waits for the server to exit by itself: its status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string database_path() const { return (dir_ / "state" / "llmd.db").string(); }
  // The server's folder: its config, certificate, state and model directory.
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  void start(const ApiServerOptions& options);
  bool spawn_server();

  TempDir dir_;
  std::unique_ptr<Child> server_;
  std::string config_;
  std::string past_logs_;
  std::uint16_t port_ = 0;
  std::string admin_key_;
  std::string user_key_;
  std::string binary_;
  std::vector<std::string> env_;
  bool ok_ = false;
};

// A synthetic model slow enough on the CPU (milliseconds per token) that a
// test can act while a generation runs: 4 layers of width 1024.
engine::synth::SynthShape slow_shape(const std::string& name, int n_ctx = 512);

// The request head and body of `path` with a bearer key, as raw HTTP/1.1.
std::string http_post(const std::string& path, const std::string& body, const std::string& key);

}  // namespace llmd::test
