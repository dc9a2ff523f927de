// Bad HTTP input: oversized headers (431), oversized bodies (413, before the
// body is read), malformed requests (400), slow senders closed at their
// timeouts while other clients are served, routing errors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "daemon/http/exchange.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

// POST /echo answers with the body it got; POST /small accepts 10 bytes at most.
class HttpInputTest : public ::testing::Test {
 protected:
  std::atomic<int> handled{0};
  TestServer srv{[](config::Config& c) {
                   c.limits.body_bytes = 1024;
                   c.limits.header_timeout = 1s;
                   c.limits.body_timeout = 1s;
                 },
                 [this](http::Server& s) {
                   route(s, "POST", "/echo", {}, [this](http::ExchangePtr ex) {
                     ++handled;
                     ex->respond(http::Response::text(200, ex->request().body));
                   });
                   http::RouteOptions small;
                   small.body_limit = 10;
                   route(s, "POST", "/small", small, [this](http::ExchangePtr ex) {
                     ++handled;
                     ex->respond(http::Response::text(200, ex->request().body));
                   });
                 }};

  std::unique_ptr<Conn> connect() {
    std::string err;
    auto c = Conn::tls(srv.port(), {}, &err);
    EXPECT_TRUE(c) << err;
    return c;
  }
};

void expect_error_body(const Reply& r, const std::string& code) {
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_NE(r.body.find("\"error\":{\"message\":"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"code\":\"" + code + "\""), std::string::npos) << r.body;
  EXPECT_FALSE(r.header("x-request-id").empty());
}

TEST_F(HttpInputTest, SixtyFourKilobytesOfHeadersGet431) {
  auto c = connect();
  std::string req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; req.size() < 64 * 1024; ++i) req += "X-Fill-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
  req += "\r\n";
  ASSERT_TRUE(c->send(req));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("connection"), "close");
  expect_error_body(*r, "request_headers_too_large");
  EXPECT_TRUE(c->wait_closed(10s));
}

TEST_F(HttpInputTest, OversizedBodyGets413BeforeItIsSent) {
  auto c = connect();
  // Only the headers: the answer must come without the server waiting for the body.
  ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 104857600\r\n\r\n"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("connection"), "close");
  expect_error_body(*r, "request_too_large");
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(HttpInputTest, BodyLimitsArePerRoute) {
  auto c = connect();
  ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
  ASSERT_TRUE(c->send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"));
  r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("exceeds the limit of 10 bytes"), std::string::npos) << r->body;
}

TEST_F(HttpInputTest, OversizedChunkedBodyGets413) {
  auto c = connect();
  ASSERT_TRUE(c->send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(handled.load(), 0);
  // Within the limit, chunked bodies arrive whole.
  auto c2 = connect();
  ASSERT_TRUE(c2->send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  r = read_reply(*c2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "abcde");
}

TEST_F(HttpInputTest, MalformedRequestsGet400) {
  const char* bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /healthz\r\n\r\n",
      "GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n",
      "G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nUser-Agent: no host\r\n\r\n",
      "GET http://example.com/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
  };
  for (const char* req : bad) {
    SCOPED_TRACE(req);
    auto c = connect();
    ASSERT_TRUE(c->send(req));
    auto r = read_reply(*c);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    expect_error_body(*r, "invalid_http_request");
  }
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(HttpInputTest, RandomBytesGetAnAnswerOrAClose) {
  std::mt19937 rng(1234);
  const std::string prefixes[] = {"", "GET / HTTP/1.1\r\n", "POST /echo HTTP/1.1\r\nHost: x\r\n",
                                  "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"};
  for (int i = 0; i < 40; ++i) {
    SCOPED_TRACE(i);
    auto c = connect();
    ASSERT_TRUE(c);
    c->set_timeout(5s);
    std::string junk = prefixes[i % 4];
    std::uniform_int_distribution<int> byte(0, 255), len(1, 3000);
    for (int n = len(rng); n > 0; --n) junk += static_cast<char>(byte(rng));
    junk += "\r\n\r\n";
    c->send(junk);
    // Whatever arrives must be an HTTP error or a close; never a hang of the server.
    auto r = read_head(*c);
    if (r) {
      EXPECT_GE(r->status, 400) << "status " << r->status;
    }
  }
  auto ok = connect();
  EXPECT_EQ(get(*ok, "/healthz")->status, 200);
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(HttpInputTest, SlowlorisIsClosedAtTheHeaderTimeoutWhileOthersAreServed) {
  auto slow = connect();
  ASSERT_TRUE(slow->send("GET /healthz HTTP/1.1\r\n"));
  auto start = std::chrono::steady_clock::now();

  std::atomic<bool> done{false};
  std::atomic<int> served{0}, failed{0};
  std::thread other([&] {
    while (!done) {
      auto c = Conn::tls(srv.port());
      auto r = c ? get(*c, "/healthz") : std::nullopt;
      (r && r->status == 200) ? ++served : ++failed;
      std::this_thread::sleep_for(50ms);
    }
  });

  // One header line every 100 ms: never idle, never finished.
  bool closed = false;
  for (int i = 0; i < 300 && !closed; ++i) {
    if (!slow->send("X-Slow-" + std::to_string(i) + ": a\r\n")) {
      closed = true;
      break;
    }
    closed = slow->wait_closed(100ms);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  done = true;
  other.join();
  EXPECT_TRUE(closed) << "the slow client was never disconnected";
  EXPECT_GE(elapsed, 900ms);
  EXPECT_GT(served.load(), 0);
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(HttpInputTest, SlowBodyIsClosedAtTheBodyTimeout) {
  auto c = connect();
  ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nstart"));
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 300 && !closed; ++i) {
    if (!c->send("x")) break;
    closed = c->wait_closed(100ms);
  }
  EXPECT_TRUE(closed || !c->send("x"));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(HttpInputTest, UnknownRoutesAndMethods) {
  auto c = connect();
  auto r = get(*c, "/v1/nothing?key=secret");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  expect_error_body(*r, "not_found");
  EXPECT_NE(r->body.find("GET /v1/nothing"), std::string::npos);
  EXPECT_EQ(r->body.find("secret"), std::string::npos);  // the query is not echoed
  ASSERT_TRUE(c->send("DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "POST");
  expect_error_body(*r, "method_not_allowed");
  // The connection stays usable after errors on complete requests.
  r = get(*c, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpInputTest, RequestIds) {
  auto c = connect();
  auto r = get(*c, "/healthz", "X-Request-Id: trace-42.a\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-request-id"), "trace-42.a");
  r = get(*c, "/healthz", "X-Request-Id: bad id\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-request-id").rfind("req_", 0), 0u);
  auto r2 = get(*c, "/healthz");
  EXPECT_NE(r2->header("x-request-id"), r->header("x-request-id"));
}

TEST_F(HttpInputTest, ExpectContinue) {
  auto c = connect();
  ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = read_head(*c);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c->send("hello"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpInputTest, Http10ClosesAfterTheResponse) {
  auto c = connect();
  ASSERT_TRUE(c->send("GET /healthz HTTP/1.0\r\n\r\n"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c->wait_closed(10s));
}

}  // namespace
}  // namespace llmd::test
