// A real llmd (the auth test daemon) in a temporary directory: self-signed
// certificate, config on an ephemeral port, first admin key from
// `llmd bootstrap-admin`, and helpers to call it over verified TLS and to run
// llmctl against it.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/value.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/files.hpp"
#include "tools/llmctl/https_client.hpp"

namespace llmd::test {

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts (or restarts) the server; fails the test if it does not get ready.
  void start();
  // SIGTERM and wait for exit 0.
  void stop();
  // SIGKILL, as a crash.
  void crash();

  client::HttpResponse call(const std::string& method, const std::string& path, const std::string& key,
                            const std::string& body = "", const client::HeaderList& extra = {});
  boost::json::value call_json(const std::string& method, const std::string& path, const std::string& key,
                               const std::string& body = "", int expect_status = 200);
  // Creates a team with the given JSON fields (besides the name) and a user key in it.
  std::string make_team_and_key(const std::string& team, const std::string& fields = "");

  // Runs llmctl with LLMD_URL, LLMD_CACERT and LLMD_ADMIN_KEY set.
  RunResult llmctl(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

  // Everything the server and tools logged so far (all runs).
  std::string logs();
  // Every secret handed out so far: keys and their secret parts.
  void remember_secret(const std::string& key);
  void expect_no_secret_in(const std::string& text, const std::string& where);

  std::string config_path() const { return (dir_ / "llmd.toml").string(); }
  std::string state_dir() const { return (dir_ / "state").string(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

  TempDir dir_;
  std::string admin_key_;
  std::unique_ptr<Child> server_;
  std::uint16_t port_ = 0;
  std::string past_logs_;
  std::vector<std::string> secrets_;
  std::vector<std::string> error_bodies_;
};

// The first full API key (llmd_..., 71 characters) in `text`, or "".
std::string find_key(const std::string& text);

}  // namespace llmd::test
