// HTTP/1.1 pipelining (RFC 9112 section 9.3.2): several requests sent in one
// write, over TLS and over the unix-socket listener, are answered in request
// order with the right bodies, whether their handlers answer at once, from a
// worker or from another thread later; a stream ends before the next response
// starts; a request behind one that closes the connection is not served, and
// the client reads the error before the close; the server stops reading at
// its cap on pipelined requests; requests a closing connection never served
// are in the access log.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/exchange.hpp"
#include "daemon/http/sse_stream.hpp"
#include "tests/daemon/kit/parking.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/stderr_capture.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

enum class Via { tls, unix_socket };

std::string post(const std::string& path, const std::string& body, const std::string& id = "",
                 const std::string& extra_headers = "") {
  std::string r = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!id.empty()) r += "X-Request-Id: " + id + "\r\n";
  return r + extra_headers + "\r\n" + body;
}

std::string post_chunked(const std::string& path, const std::string& body, const std::string& id) {
  std::string r = "POST " + path + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Request-Id: " + id +
                  "\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 7) {
    std::string piece = body.substr(at, 7);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    r += std::string(size) + "\r\n" + piece + "\r\n";
  }
  return r + "0\r\n\r\n";
}

std::string get_request(const std::string& path, const std::string& id = "", const std::string& extra_headers = "") {
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: x\r\n";
  if (!id.empty()) r += "X-Request-Id: " + id + "\r\n";
  return r + extra_headers + "\r\n";
}

// The SSE body /stream sends for `n` events.
std::string stream_body(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "data: {\"i\":" + std::to_string(i) + "}\n\n";
  return s + "data: [DONE]\n\n";
}

// How often `needle` occurs in `text`.
std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// Routes:
//   POST /echo     answers with its body, at once
//   POST /offload  the same from the worker pool (as the completion routes are)
//   POST /late     answers with its body from another thread after ~5 ms, so
//                  that a quicker request behind it would overtake it if the
//                  server answered out of order
//   POST /stream   streams N events (N = the body) from another thread
//   GET  /count    counts the requests it served
//   GET  /park     hands the exchange to the test
class PipeliningTest : public ::testing::TestWithParam<Via> {
 protected:
  PipeliningTest()
      : srv(
            [](config::Config& c) {
              c.limits.body_bytes = 4096;
              c.server.unix_socket = c.paths.state_dir / "llmd.sock";
            },
            [this](http::Server& s) {
              route(s, "POST", "/echo", {}, [](http::ExchangePtr ex) {
                ex->respond(http::Response::text(200, ex->request().body));
              });
              http::RouteOptions offload;
              offload.offload = true;
              route(s, "POST", "/offload", offload, [](http::ExchangePtr ex) {
                ex->respond(http::Response::text(200, ex->request().body));
              });
              route(s, "POST", "/late", {}, [](http::ExchangePtr ex) {
                std::thread([ex] {
                  std::this_thread::sleep_for(5ms);
                  ex->respond(http::Response::text(200, ex->request().body));
                }).detach();
              });
              route(s, "POST", "/stream", {}, [](http::ExchangePtr ex) {
                std::thread([ex] {
                  int n = std::stoi(ex->request().body);
                  if (!http::sse::begin(*ex)) return;
                  for (int i = 0; i < n; ++i) {
                    if (!http::sse::send_data(*ex, "{\"i\":" + std::to_string(i) + "}")) return;
                    std::this_thread::sleep_for(1ms);
                  }
                  http::sse::send_done(*ex);
                }).detach();
              });
              route(s, "GET", "/count", {}, [this](http::ExchangePtr ex) {
                ++counted;
                ex->respond(http::Response::text(200, "counted"));
              });
              route(s, "GET", "/park", {}, [this](http::ExchangePtr ex) { parking.park(std::move(ex)); });
            }) {}

  std::unique_ptr<Conn> connect() {
    std::string err;
    auto c = GetParam() == Via::tls ? Conn::tls(srv.port(), {}, &err)
                                    : Conn::unix_socket(srv.config().server.unix_socket.string(), &err);
    EXPECT_TRUE(c) << err;
    return c;
  }

  // Reads one reply and checks its status, request id and body.
  static void expect_reply(Conn& c, int status, const std::string& id, const std::string& body) {
    SCOPED_TRACE("request " + id);
    auto r = read_reply(c);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(r->header("x-request-id"), id);
    EXPECT_EQ(r->body, body);
  }

  std::atomic<int> counted{0};
  Parking parking;
  TestServer srv;
};

INSTANTIATE_TEST_SUITE_P(Transports, PipeliningTest, ::testing::Values(Via::tls, Via::unix_socket),
                         [](const auto& info) { return info.param == Via::tls ? "Tls" : "UnixSocket"; });

// The shape of a completion request followed by a health check: the POST's
// handler answers from the worker pool while the GET waits in the buffer.
TEST_P(PipeliningTest, PostThenGet) {
  auto c = connect();
  ASSERT_TRUE(c);
  for (const char* path : {"/offload", "/echo", "/late"}) {
    ASSERT_TRUE(c->send(post(path, "{\"max_tokens\":4}", "one") + get_request("/healthz", "two")));
    expect_reply(*c, 200, "one", "{\"max_tokens\":4}");
    expect_reply(*c, 200, "two", R"({"status":"ok"})");
  }
}

TEST_P(PipeliningTest, PostThenPost) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(post("/late", "first body", "one") + post("/offload", "second", "two") +
                      post("/echo", "third", "three")));
  expect_reply(*c, 200, "one", "first body");
  expect_reply(*c, 200, "two", "second");
  expect_reply(*c, 200, "three", "third");
}

TEST_P(PipeliningTest, StreamingPostThenGet) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(post("/stream", "40", "s") + get_request("/healthz", "h")));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->header("x-request-id"), "s");
  EXPECT_EQ(r->body, stream_body(40));  // whole, and nothing of the next response inside it
  expect_reply(*c, 200, "h", R"({"status":"ok"})");
}

// More requests than the pipeline cap, and more bytes than the read buffer,
// in one write: every kind of handler, bodies with a length or chunked.
TEST_P(PipeliningTest, HundredMixedRequestsInOneWrite) {
  struct Expected {
    std::string id;
    std::string body;
  };
  std::string wire;
  std::vector<Expected> expected;
  for (int i = 0; i < 100; ++i) {
    const std::string id = "r" + std::to_string(i);
    const std::string body = "body " + std::to_string(i) + " " + std::string(static_cast<std::size_t>(i * 37 % 1500), 'x');
    switch (i % 7) {
      case 0:
        wire += get_request("/healthz", id);
        expected.push_back({id, R"({"status":"ok"})"});
        break;
      case 1:
        wire += post("/echo", body, id);
        expected.push_back({id, body});
        break;
      case 2:
        wire += post("/offload", body, id);
        expected.push_back({id, body});
        break;
      case 3:
        wire += post("/late", body, id);
        expected.push_back({id, body});
        break;
      case 4:
        wire += post("/stream", std::to_string(i % 5 + 1), id);
        expected.push_back({id, stream_body(i % 5 + 1)});
        break;
      case 5:
        wire += post_chunked("/echo", body, id);
        expected.push_back({id, body});
        break;
      default:
        wire += get_request("/count", id);
        expected.push_back({id, "counted"});
        break;
    }
  }
  ASSERT_GT(wire.size(), 32 * 1024u);  // more than the server's buffer holds (headers limit + 16 KiB)
  auto c = connect();
  ASSERT_TRUE(c);
  // Sent from another thread: the server stops reading at its cap until this
  // side reads answers, so one blocking write could wait on the reads below.
  auto sent = std::async(std::launch::async, [&] { return c->send(wire); });
  for (const Expected& e : expected) {
    expect_reply(*c, 200, e.id, e.body);
    if (::testing::Test::HasFatalFailure()) break;
  }
  EXPECT_TRUE(sent.get());
  EXPECT_EQ(counted.load(), 14);
  // The connection carries the next request.
  auto r = get(*c, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// A request whose answer closes the connection: the requests behind it are
// not served, and the client reads the error before the close.
TEST_P(PipeliningTest, ErrorThatClosesTheConnectionEndsThePipeline) {
  struct Case {
    const char* name;
    std::string first;
    int status;
  };
  std::string big_headers = "GET /count HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; big_headers.size() < 64 * 1024; ++i) big_headers += "X-Fill-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
  big_headers += "\r\n";
  const Case cases[] = {
      {"413", post("/echo", std::string(5000, 'b')), 413},
      {"431", big_headers, 431},
      {"400", "GET /count HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    auto c = connect();
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send(k.first + get_request("/count") + get_request("/count")));
    auto r = read_reply(*c);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, k.status);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_FALSE(read_head(*c)) << "a request behind the error was answered";
    EXPECT_TRUE(c->wait_closed(10s));
  }
  // Behind a request that was served, the malformed one still gets its 400.
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(post("/late", "fine", "ok") + "GARBAGE\r\n\r\n" + get_request("/count")));
  expect_reply(*c, 200, "ok", "fine");
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_FALSE(read_head(*c));
  EXPECT_EQ(counted.load(), 0);
}

// While a request is handled the server reads on, so a client that goes away
// is noticed, up to its cap of 16 requests held per connection; beyond it, it
// reads no more until earlier requests are answered, and a disconnect goes
// unseen meanwhile.
TEST_P(PipeliningTest, ReadingStopsAtThePipelineCap) {
  {
    StderrCapture log;
    auto c = connect();
    ASSERT_TRUE(c);
    std::string wire = get_request("/park", "parked");
    for (int i = 0; i < 5; ++i) wire += get_request("/count", "queued-" + std::to_string(i));
    ASSERT_TRUE(c->send(wire));
    auto ex = parking.take();
    ASSERT_TRUE(ex);
    std::promise<http::Outcome> done;
    ex->on_done([&](http::Outcome o) { done.set_value(o); });
    c.reset();  // the client goes away
    auto outcome = done.get_future();
    ASSERT_EQ(outcome.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(outcome.get(), http::Outcome::client_gone);
    EXPECT_TRUE(ex->aborted());
    // One access-log line for every request read: the one in flight, and the
    // ones behind it, never served, with the reason the connection closed.
    ex.reset();
    EXPECT_TRUE(srv.server().wait_idle(10s));
    const std::string text = log.text();
    EXPECT_EQ(occurrences(text, "path=/park status=0 bytes=0"), 1u) << text;
    EXPECT_EQ(occurrences(text, "id=parked outcome=client_gone"), 1u) << text;
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(occurrences(text, "method=GET path=/count status=0 bytes=0 ms=0.00 id=queued-" + std::to_string(i) +
                                      " outcome=not_served close=client_gone"),
                1u)
          << text;
    }
  }
  auto c = connect();
  ASSERT_TRUE(c);
  std::string wire = get_request("/park");
  for (int i = 0; i < 30; ++i) wire += get_request("/count");
  ASSERT_TRUE(c->send(wire));
  auto ex = parking.take();
  ASSERT_TRUE(ex);
  c.reset();
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(ex->aborted()) << "the server read beyond its pipeline cap";
  ex->respond(http::Response::text(200, "late"));
  ex.reset();
  EXPECT_TRUE(srv.server().wait_idle(10s));
}

// A request that asks to close the connection ends the pipeline after its
// answer; each request the client sent behind it (more than the cap) gets one
// access-log line saying it was not served.
TEST_P(PipeliningTest, ConnectionCloseEndsThePipeline) {
  StderrCapture log;
  auto c = connect();
  ASSERT_TRUE(c);
  std::string wire = get_request("/park", "last", "Connection: close\r\n");
  for (int i = 0; i < 40; ++i) wire += get_request("/count", "behind-" + std::to_string(i));
  ASSERT_TRUE(c->send(wire));
  auto ex = parking.take();
  ASSERT_TRUE(ex);
  ex->respond(http::Response::text(200, "answered"));
  ex.reset();
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "answered");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_FALSE(read_head(*c));
  c.reset();
  EXPECT_TRUE(srv.server().wait_idle(10s));
  EXPECT_EQ(counted.load(), 0);
  const std::string text = log.text();
  EXPECT_EQ(occurrences(text, "path=/park status=200 bytes=8"), 1u) << text;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(occurrences(text, "method=GET path=/count status=0 bytes=0 ms=0.00 id=behind-" + std::to_string(i) +
                                    " outcome=not_served close=connection_close"),
              1u)
        << text;
  }
}

}  // namespace
}  // namespace llmd::test
