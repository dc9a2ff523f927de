#include "tests/daemon/kit/test_server.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace llmd::test {

config::Config test_config(const TempDir& dir) {
  write_self_signed(dir.path());
  config::Config c;
  c.file = dir / "llmd.toml";
  c.server.address = "127.0.0.1";
  c.server.port = 0;
  c.server.io_threads = 2;
  c.server.drain_timeout = std::chrono::seconds(10);
  c.tls.cert_file = dir / "cert.pem";
  c.tls.key_file = dir / "key.pem";
  c.paths.state_dir = dir.path();
  c.limits.handshake_timeout = std::chrono::seconds(20);
  c.limits.header_timeout = std::chrono::seconds(20);
  c.limits.body_timeout = std::chrono::seconds(20);
  c.limits.idle_timeout = std::chrono::seconds(30);
  c.limits.write_timeout = std::chrono::seconds(20);
  return c;
}

void route(http::Server& s, std::string_view method, std::string_view pattern, http::RouteOptions options,
           http::Handler handler) {
  Status st = s.router().add(method, pattern, options, std::move(handler));
  EXPECT_TRUE(st) << (st ? "" : st.error().message);
}

TestServer::TestServer(const std::function<void(config::Config&)>& adjust,
                       const std::function<void(http::Server&)>& setup) {
  cfg_ = test_config(dir_);
  if (adjust) adjust(cfg_);
  auto s = http::Server::create(cfg_);
  if (!s) throw std::runtime_error("Server::create: " + s.error().message);
  server_ = std::move(*s);
  if (setup) setup(*server_);
  if (Status st = server_->start(); !st) throw std::runtime_error("Server::start: " + st.error().message);
  server_->set_ready(true);
}

TestServer::~TestServer() {
  if (server_) server_->stop();
}

}  // namespace llmd::test
