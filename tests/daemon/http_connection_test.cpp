// Connections: keep-alive for 1,000 requests, pipelining, the connection
// limit, idle timeout, the unix-socket listener, /readyz and draining.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <condition_variable>
#include <mutex>

#include "daemon/http/exchange.hpp"
#include "tests/daemon/kit/parking.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

TEST(HttpConnection, ThousandRequestsOnOneKeepAliveConnection) {
  TestServer srv({}, [](http::Server& s) {
    route(s, "POST", "/echo", {}, [](http::ExchangePtr ex) {
      ex->respond(http::Response::text(200, ex->request().body));
    });
  });
  auto c = Conn::tls(srv.port());
  ASSERT_TRUE(c);
  for (int i = 0; i < 1000; ++i) {
    std::optional<Reply> r;
    if (i % 2 == 0) {
      r = get(*c, "/healthz");
    } else {
      std::string body = "request " + std::to_string(i);
      ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body));
      r = read_reply(*c);
      ASSERT_TRUE(r) << "request " << i;
      EXPECT_EQ(r->body, body);
    }
    ASSERT_TRUE(r) << "request " << i;
    ASSERT_EQ(r->status, 200) << "request " << i;
    ASSERT_NE(r->header("connection"), "close") << "request " << i;
  }
  EXPECT_EQ(srv.server().connections(), 1u);
}

TEST(HttpConnection, PipelinedRequestsAreAnsweredInOrder) {
  TestServer srv;
  auto c = Conn::tls(srv.port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: one\r\n\r\n"
                      "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Request-Id: two\r\n\r\n"
                      "GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: three\r\n\r\n"));
  auto a = read_reply(*c), b = read_reply(*c), d = read_reply(*c);
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->header("x-request-id"), "one");
  EXPECT_EQ(b->header("x-request-id"), "two");
  EXPECT_EQ(b->body, R"({"status":"ready"})");
  EXPECT_EQ(d->header("x-request-id"), "three");
  EXPECT_EQ(d->status, 404);
}

TEST(HttpConnection, ConnectionLimit) {
  TestServer srv([](config::Config& c) { c.limits.max_connections = 3; });
  std::vector<std::unique_ptr<Conn>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(Conn::tls(srv.port()));
    ASSERT_TRUE(open.back());
    ASSERT_EQ(get(*open.back(), "/healthz")->status, 200);
  }
  std::string err;
  EXPECT_FALSE(Conn::tls(srv.port(), {}, &err)) << "a fourth connection was accepted";
  open.pop_back();  // frees a slot once the server notices
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (srv.server().connections() >= 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  auto again = Conn::tls(srv.port(), {}, &err);
  ASSERT_TRUE(again) << err;
  EXPECT_EQ(get(*again, "/healthz")->status, 200);
}

TEST(HttpConnection, IdleKeepAliveConnectionsAreClosed) {
  TestServer srv([](config::Config& c) { c.limits.idle_timeout = 300ms; });
  auto c = Conn::tls(srv.port());
  ASSERT_TRUE(c);
  ASSERT_EQ(get(*c, "/healthz")->status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c->wait_closed(20s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(HttpConnection, UnixSocketListenerSpeaksPlainHttp) {
  std::filesystem::path sock;
  {
    TestServer srv([&](config::Config& c) {
      c.server.unix_socket = c.paths.state_dir / "llmd.sock";
      c.server.unix_socket_mode = 0600;
      sock = c.server.unix_socket;
    });
    struct stat st {};
    ASSERT_EQ(::stat(sock.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string err;
    auto c = Conn::unix_socket(sock.string(), &err);
    ASSERT_TRUE(c) << err;
    auto r = get(*c, "/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"status":"ok"})");
  }
  EXPECT_FALSE(std::filesystem::exists(sock));  // removed at stop
}

TEST(HttpConnection, UnixSocketReplacesAStaleFileButNotALiveListener) {
  TempDir dir;
  const auto path = dir / "llmd.sock";
  {
    // A socket file left behind by a process that is gone.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  auto with_socket = [&](config::Config& c) { c.server.unix_socket = path; };
  TestServer first(with_socket);
  auto c = Conn::unix_socket(path.string());
  ASSERT_TRUE(c);
  EXPECT_EQ(get(*c, "/healthz")->status, 200);

  config::Config cfg = test_config(dir);
  with_socket(cfg);
  auto second = http::Server::create(cfg);
  ASSERT_TRUE(second);
  Status st = (*second)->start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "cannot listen on " + path.string() + ": another process serves it");
  EXPECT_EQ(get(*c, "/healthz")->status, 200);  // the first one is untouched
}

TEST(HttpConnection, ReadyzFollowsReadinessAndDrain) {
  Parking parking;
  TestServer srv({}, [&](http::Server& s) {
    route(s, "GET", "/park", {}, [&](http::ExchangePtr ex) { parking.park(std::move(ex)); });
  });
  http::Server& server = srv.server();
  server.set_ready(false);
  auto c = Conn::tls(srv.port());
  ASSERT_TRUE(c);
  auto r = get(*c, "/readyz");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"status":"starting"})");
  EXPECT_EQ(get(*c, "/healthz")->status, 200);  // alive while not ready
  server.set_ready(true);
  r = get(*c, "/readyz");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ready"})");

  // A request in flight, a request on its way, an idle connection; then drain.
  auto busy = Conn::tls(srv.port());
  ASSERT_TRUE(busy);
  ASSERT_TRUE(busy->send("GET /park HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto parked = parking.take();
  ASSERT_TRUE(parked);
  auto idle = Conn::tls(srv.port());
  ASSERT_TRUE(idle);
  ASSERT_EQ(get(*idle, "/healthz")->status, 200);
  ASSERT_TRUE(c->send("GET /readyz HTTP/1.1\r\nHost: x\r\n"));  // headers not finished yet

  server.begin_drain();
  EXPECT_FALSE(server.ready());
  EXPECT_TRUE(idle->wait_closed(10s)) << "idle connections close at drain";
  ASSERT_TRUE(c->send("\r\n"));
  r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"status":"draining"})");
  EXPECT_EQ(r->header("connection"), "close");

  // No new connections.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    refused = Conn::tls(srv.port()) == nullptr;
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(refused);

  // The in-flight request completes, then its connection closes.
  EXPECT_FALSE(server.wait_idle(100ms));
  ASSERT_TRUE(parked->respond(http::Response::json(200, "{\"late\":true}")));
  parked.reset();
  r = read_reply(*busy);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"late\":true}");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(server.wait_idle(10s));
  EXPECT_EQ(server.connections(), 0u);
}

}  // namespace
}  // namespace llmd::test
