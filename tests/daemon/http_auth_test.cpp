// Authentication that waits for a worker (the key-cache miss path): the
// verdict comes back through AuthLater from another thread while the I/O
// thread goes on serving others; a verdict that does not come within
// auth_timeout is answered 503 with Retry-After and dropped when it comes; a
// late denial still stops the body from being read. And the limits on
// strangers: the per-client-address connection cap and the shorter idle
// timeout of connections that have not authenticated.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/http/exchange.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

struct Caller : http::Principal {
  std::string team;
};

std::shared_ptr<Caller> caller(const std::string& team) {
  auto c = std::make_shared<Caller>();
  c->team = team;
  return c;
}

// Authorization values:
//   "Bearer now"      allowed at once (team "now")
//   "Bearer worker"   allowed by a worker (Server::offload) after 50 ms (team "worker")
//   "Bearer refused"  refused by a worker with 401
//   "Bearer held"     the verdict waits until the test releases it
// anything else: 401 at once.
class HttpAuthTest : public ::testing::Test {
 protected:
  std::mutex mu;
  std::vector<http::AuthLater> held;
  http::Server* server = nullptr;

  TestServer srv{[this](config::Config& c) {
                   c.server.io_threads = 1;  // a blocked I/O thread would stall every connection
                   c.server.unix_socket = dir_path() / "llmd.sock";
                   c.limits.auth_timeout = 300ms;
                   c.limits.unauthenticated_idle_timeout = 300ms;
                   c.limits.idle_timeout = 30s;
                   c.limits.max_connections_per_client = 3;
                 },
                 [this](http::Server& s) {
                   server = &s;
                   s.set_authenticator([this](const http::Request& req, const http::RouteOptions&,
                                              http::AuthLater later) -> std::optional<http::AuthVerdict> {
                     return authenticate(req, std::move(later));
                   });
                   route(s, "POST", "/whoami", {}, [](http::ExchangePtr ex) {
                     const auto* c = ex->request().principal_as<Caller>();
                     ex->respond(http::Response::text(200, (c ? c->team : "?") + ":" + ex->request().body));
                   });
                 }};

  static std::filesystem::path dir_path() {
    static TempDir sockets;  // a short path for the unix socket
    return sockets.path();
  }

  std::optional<http::AuthVerdict> authenticate(const http::Request& req, http::AuthLater later) {
    std::string_view auth = req.header("authorization");
    http::AuthVerdict v;
    if (auth == "Bearer now") {
      v.principal = caller("now");
      return v;
    }
    if (auth == "Bearer worker" || auth == "Bearer refused") {
      bool allow = auth == "Bearer worker";
      server->offload([later = std::move(later), allow] {
        std::this_thread::sleep_for(50ms);
        http::AuthVerdict w;
        if (allow) {
          w.principal = caller("worker");
          w.log_context = "team=worker";
        } else {
          w.denied = http::error_response(401, "no such key", "invalid_api_key");
        }
        later(std::move(w));
      });
      return std::nullopt;
    }
    if (auth == "Bearer held") {
      std::lock_guard lock(mu);
      held.push_back(std::move(later));
      return std::nullopt;
    }
    v.denied = http::error_response(401, "no key", "invalid_api_key");
    return v;
  }

  // Answers every held verdict with team "held".
  void release_held() {
    std::vector<http::AuthLater> go;
    {
      std::lock_guard lock(mu);
      go.swap(held);
    }
    for (auto& later : go) {
      http::AuthVerdict v;
      v.principal = caller("held");
      later(std::move(v));
    }
  }

  size_t held_count() {
    std::lock_guard lock(mu);
    return held.size();
  }

  std::unique_ptr<Conn> connect() {
    std::string err;
    auto c = Conn::tls(srv.port(), {}, &err);
    EXPECT_TRUE(c) << err;
    if (c) c->set_timeout(10s);
    return c;
  }
};

std::string whoami(const std::string& key, const std::string& body) {
  return "POST /whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST_F(HttpAuthTest, VerdictFromAWorkerLetsTheRequestThrough) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(whoami("worker", "hello")));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "worker:hello");
  // The connection goes on, and a verdict from memory works on it too.
  ASSERT_TRUE(c->send(whoami("now", "again")));
  r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "now:again");
}

TEST_F(HttpAuthTest, TheIoThreadServesOthersWhileAVerdictIsPending) {
  auto waiting = connect();
  ASSERT_TRUE(waiting);
  ASSERT_TRUE(waiting->send(whoami("held", "body")));
  for (int i = 0; i < 500 && held_count() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(held_count(), 1u);
  // One I/O thread: these are served only because nothing blocks it.
  for (int i = 0; i < 5; ++i) {
    auto other = connect();
    ASSERT_TRUE(other);
    auto r = get(*other, "/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  release_held();
  auto r = read_reply(*waiting);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "held:body");
}

TEST_F(HttpAuthTest, AVerdictThatTakesTooLongGets503AndIsDropped) {
  auto c = connect();
  ASSERT_TRUE(c);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->send(whoami("held", "")));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  // The request was whole (no body): the connection stays usable, and the
  // verdict that comes now belongs to nothing.
  release_held();
  ASSERT_TRUE(c->send(whoami("now", "next")));
  r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "now:next");
}

TEST_F(HttpAuthTest, ALateDenialStillKeepsTheBodyUnread) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("POST /whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer refused\r\n"
                      "Content-Length: 10000000\r\n\r\n"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c->wait_closed(10s));
}

TEST_F(HttpAuthTest, ConnectionsPerClientAddressAreCapped) {
  std::vector<std::unique_ptr<Conn>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(connect());
    ASSERT_TRUE(open.back());
    ASSERT_EQ(get(*open.back(), "/healthz")->status, 200);
  }
  std::string err;
  EXPECT_FALSE(Conn::tls(srv.port(), {}, &err)) << "a fourth connection from one address was accepted";
  // The unix socket is not a client address: not capped.
  auto local = Conn::unix_socket((dir_path() / "llmd.sock").string(), &err);
  ASSERT_TRUE(local) << err;
  EXPECT_EQ(get(*local, "/healthz")->status, 200);
  // A closed connection frees its address's slot.
  open.pop_back();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  std::unique_ptr<Conn> again;
  while (!again && std::chrono::steady_clock::now() < deadline) {
    again = Conn::tls(srv.port(), {}, &err);
    if (!again) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(again) << err;
  EXPECT_EQ(get(*again, "/healthz")->status, 200);
}

TEST_F(HttpAuthTest, ConnectionsThatHaveNotAuthenticatedIdleOutSooner) {
  auto stranger = connect();
  auto known = connect();
  ASSERT_TRUE(stranger && known);
  ASSERT_EQ(get(*stranger, "/healthz")->status, 200);
  ASSERT_TRUE(known->send(whoami("now", "x")));
  ASSERT_EQ(read_reply(*known)->status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(stranger->wait_closed(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  // The authenticated one keeps idle_timeout (30 s).
  EXPECT_FALSE(known->wait_closed(1s));
  auto r = get(*known, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace llmd::test
