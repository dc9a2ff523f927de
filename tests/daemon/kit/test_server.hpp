// An in-process llmd HTTPS server on an ephemeral loopback port, with a
// self-signed certificate and short timeouts, for tests that drive it with
// the kit's TLS client.
#pragma once

#include <functional>
#include <memory>

#include "daemon/config/config.hpp"
#include "daemon/http/server.hpp"
#include "tests/daemon/kit/files.hpp"

namespace llmd::test {

class TestServer {
 public:
  // `adjust` edits the config and may register routes before the start.
  explicit TestServer(const std::function<void(config::Config&)>& adjust = {},
                      const std::function<void(http::Server&)>& setup = {});
  ~TestServer();

  http::Server& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }
  const config::Config& config() const { return cfg_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  config::Config cfg_;
  std::unique_ptr<http::Server> server_;
};

// Registers a route; a failure fails the current test.
void route(http::Server& s, std::string_view method, std::string_view pattern, http::RouteOptions options,
           http::Handler handler);

// The base test config: loopback, port 0, 2 I/O threads, generous timeouts
// (tests that exercise a timeout shorten it).
config::Config test_config(const TempDir& dir);

}  // namespace llmd::test
