// The handler side: answers and streams from other threads, disconnect
// notification, the bounded stream buffer, dropped exchanges, the
// authentication hook and offloaded handlers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "daemon/http/exchange.hpp"
#include "daemon/http/notify_batch.hpp"
#include "daemon/http/sse_stream.hpp"
#include "tests/daemon/kit/parking.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

// Records the outcome reported by on_done.
struct DoneProbe {
  std::promise<http::Outcome> promise;
  std::future<http::Outcome> future = promise.get_future();
  std::function<void(http::Outcome)> callback() {
    return [this](http::Outcome o) { promise.set_value(o); };
  }
  std::optional<http::Outcome> wait(std::chrono::milliseconds t = 10s) {
    if (future.wait_for(t) != std::future_status::ready) return std::nullopt;
    return future.get();
  }
};

class ExchangeTest : public ::testing::Test {
 protected:
  explicit ExchangeTest(std::function<void(config::Config&)> adjust = {})
      : srv(std::move(adjust), [this](http::Server& s) {
          route(s, "GET", "/park", {}, [this](http::ExchangePtr ex) { parking.park(std::move(ex)); });
          route(s, "GET", "/drop", {}, [](http::ExchangePtr) {});
          route(s, "GET", "/throw", {}, [](http::ExchangePtr) { throw std::runtime_error("boom"); });
        }) {}

  std::unique_ptr<Conn> connect() {
    auto c = Conn::tls(srv.port());
    EXPECT_TRUE(c);
    return c;
  }

  // Sends `request` on c; the exchange the /park route received, or null.
  http::ExchangePtr park(Conn& c, const std::string& request = "GET /park HTTP/1.1\r\nHost: x\r\n\r\n") {
    if (!c.send(request)) return nullptr;
    return parking.take();
  }

  Parking parking;
  TestServer srv;
};

TEST_F(ExchangeTest, AnswersFromAnotherThread) {
  auto c = connect();
  auto ex = park(*c, "GET /park?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->request().path, "/park");
  EXPECT_EQ(ex->request().query_param("x"), std::optional<std::string>("1"));
  EXPECT_EQ(ex->request().remote.rfind("127.0.0.1:", 0), 0u);
  DoneProbe done;
  ex->on_done(done.callback());
  std::thread engine([ex] {
    std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(ex->respond(http::Response::json(201, R"({"ok":1})")));
    EXPECT_FALSE(ex->respond(http::Response::json(200, "{}")));  // only once
  });
  auto r = read_reply(*c);
  engine.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"ok":1})");
  EXPECT_EQ(done.wait(), http::Outcome::completed);
  EXPECT_FALSE(ex->aborted());
}

TEST_F(ExchangeTest, StreamsServerSentEventsFromAnotherThread) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  std::thread engine([ex] {
    ASSERT_TRUE(http::sse::begin(*ex));
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(http::sse::send_data(*ex, "{\"token\":" + std::to_string(i) + "}"));
    ASSERT_TRUE(http::sse::send_done(*ex));
    EXPECT_FALSE(ex->write("late"));
  });
  auto reply = read_reply(*c);
  engine.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_TRUE(reply->chunked);
  EXPECT_EQ(reply->header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(reply->header("cache-control"), "no-cache");
  EXPECT_FALSE(reply->header("x-request-id").empty());
  std::string expected;
  for (int i = 0; i < 200; ++i) expected += "data: {\"token\":" + std::to_string(i) + "}\n\n";
  expected += "data: [DONE]\n\n";
  EXPECT_EQ(reply->body, expected);
  EXPECT_EQ(done.wait(), http::Outcome::completed);
  // The connection carries the next request.
  auto r = get(*c, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// A producer thread that opts in to NotifyBatch (as the engine thread does
// after its first step) holds its notifications until it flushes; then every
// connection gets its bytes. Threads that never flush are unaffected.
TEST_F(ExchangeTest, BatchedNotificationsWaitForTheFlushThenReachEveryConnection) {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<http::ExchangePtr> exs;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(connect());
    exs.push_back(park(*conns.back()));
    ASSERT_TRUE(exs.back());
  }
  std::mutex mu;
  std::condition_variable cv;
  int phase = 0;  // 1: written, waiting for the check; 2: flush; 3: flushed
  std::thread engine([&] {
    http::NotifyBatch::flush_this_thread();  // opt in, nothing to hand over yet
    for (auto& ex : exs) {
      ASSERT_TRUE(http::sse::begin(*ex));
      ASSERT_TRUE(http::sse::send_data(*ex, "{\"n\":1}"));
    }
    std::unique_lock lock(mu);
    phase = 1;
    cv.notify_all();
    cv.wait(lock, [&] { return phase == 2; });
    http::NotifyBatch::flush_this_thread();
    for (auto& ex : exs) ASSERT_TRUE(http::sse::send_done(*ex));
    http::NotifyBatch::flush_this_thread();
    phase = 3;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return phase == 1; });
  }
  // Nothing has been handed to the connections yet.
  for (auto& c : conns) {
    c->set_timeout(300ms);
    char byte;
    EXPECT_EQ(c->recv_some(&byte, 1), -1);
    EXPECT_TRUE(c->timed_out());
    c->set_timeout(10s);
  }
  {
    std::lock_guard lock(mu);
    phase = 2;
    cv.notify_all();
  }
  std::vector<std::optional<Reply>> replies;
  for (auto& c : conns) replies.push_back(read_reply(*c));
  engine.join();
  for (const auto& r : replies) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "data: {\"n\":1}\n\ndata: [DONE]\n\n");
  }
  // This thread never flushed: its writes go out at once.
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  ASSERT_TRUE(ex->respond(http::Response::json(200, R"({"ok":1})")));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ExchangeTest, StreamToHttp10ClientEndsWithTheConnection) {
  auto c = connect();
  auto ex = park(*c, "GET /park HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  ASSERT_TRUE(http::sse::begin(*ex));
  ASSERT_TRUE(http::sse::send_data(*ex, "a"));
  ASSERT_TRUE(read_head(*c));
  EXPECT_EQ(c->read_exact(9), std::optional<std::string>("data: a\n\n"));
  ASSERT_TRUE(ex->end_stream());  // the end alone, with no bytes left to carry it
  EXPECT_EQ(done.wait(), http::Outcome::completed);
  EXPECT_EQ(c->read_to_eof(), "");
  EXPECT_FALSE(c->timed_out()) << "the connection did not close at the end of the stream";
}

TEST_F(ExchangeTest, StreamToHttp10ClientInOneGo) {
  auto c = connect();
  auto ex = park(*c, "GET /park HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(ex);
  ASSERT_TRUE(http::sse::begin(*ex));
  ASSERT_TRUE(http::sse::send_data(*ex, "a"));
  ASSERT_TRUE(http::sse::send_done(*ex));
  auto r = read_reply(*c);
  EXPECT_FALSE(c->timed_out());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(r->body, "data: a\n\ndata: [DONE]\n\n");
}

TEST_F(ExchangeTest, ClientDisconnectIsReportedWhileTheHandlerWorks) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  c.reset();  // the client goes away before any answer
  EXPECT_EQ(done.wait(), http::Outcome::client_gone);
  EXPECT_TRUE(ex->aborted());
  EXPECT_FALSE(ex->respond(http::Response::json(200, "{}")));
  DoneProbe late;  // registering after the end reports at once
  ex->on_done(late.callback());
  EXPECT_EQ(late.wait(0ms), http::Outcome::client_gone);
}

TEST_F(ExchangeTest, ClientDisconnectMidStreamStopsTheProducer) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  ASSERT_TRUE(http::sse::begin(*ex));
  ASSERT_TRUE(http::sse::send_data(*ex, "first"));
  ASSERT_TRUE(read_head(*c));
  ASSERT_EQ(read_chunk(*c), std::optional<std::string>("data: first\n\n"));
  c.reset();
  EXPECT_EQ(done.wait(), http::Outcome::client_gone);
  EXPECT_FALSE(http::sse::send_data(*ex, "more"));
}

class SmallStreamBuffer : public ExchangeTest {
 protected:
  SmallStreamBuffer() : ExchangeTest([](config::Config& c) { c.limits.stream_buffer_bytes = 64 * 1024; }) {}
};

TEST_F(SmallStreamBuffer, SlowReaderOverflowsAndTheProducerNeverBlocks) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  ASSERT_TRUE(http::sse::begin(*ex));
  // The client reads nothing. Every write returns at once; once the socket
  // buffers and the 64 KiB stream buffer are full, the stream is aborted.
  const std::string event = http::sse::format_event("", std::string(1000, 'x'));
  std::size_t accepted = 0;
  bool refused = false;
  for (int i = 0; i < 200000 && !refused; ++i) {
    if (ex->write(event)) {
      accepted += event.size();
    } else {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "accepted " << accepted << " bytes without reading";
  EXPECT_EQ(done.wait(), http::Outcome::overflow);
  EXPECT_TRUE(ex->aborted());
  EXPECT_TRUE(c->wait_closed(10s));
  // Others are served.
  auto other = connect();
  EXPECT_EQ(get(*other, "/healthz")->status, 200);
}

TEST_F(ExchangeTest, DroppedExchangeAnswers500) {
  auto c = connect();
  auto r = get(*c, "/drop");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("\"code\":\"internal_error\""), std::string::npos);
  r = get(*c, "/throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.find("boom"), std::string::npos);  // internals stay in the log
  EXPECT_EQ(get(*c, "/healthz")->status, 200);
}

TEST_F(ExchangeTest, DroppedStreamClosesTheConnection) {
  auto c = connect();
  ASSERT_TRUE(c->send("GET /park HTTP/1.1\r\nHost: x\r\n\r\n"));
  {
    auto ex = parking.take();
    ASSERT_TRUE(ex);
    ASSERT_TRUE(http::sse::begin(*ex));
    ASSERT_TRUE(http::sse::send_data(*ex, "partial"));
  }  // dropped mid-stream
  ASSERT_TRUE(read_head(*c));
  EXPECT_EQ(read_chunk(*c), std::optional<std::string>("data: partial\n\n"));
  EXPECT_EQ(read_chunk(*c), std::nullopt);  // truncated: no last chunk
}

// The write timeout bounds each write, not the stream: a stream that lasts
// several timeouts while the client keeps reading completes; a client that
// stops reading is cut off once a write has waited that long.
class ShortWriteTimeout : public ExchangeTest {
 protected:
  ShortWriteTimeout()
      : ExchangeTest([](config::Config& c) {
          c.limits.write_timeout = 300ms;
          c.limits.stream_buffer_bytes = 256u * 1024 * 1024;
        }) {}
};

TEST_F(ShortWriteTimeout, AStreamLongerThanTheWriteTimeoutCompletes) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  std::thread engine([ex] {
    ASSERT_TRUE(http::sse::begin(*ex));
    for (int i = 0; i < 12; ++i) {  // 1.2 s: four write timeouts
      ASSERT_TRUE(http::sse::send_data(*ex, "{\"n\":" + std::to_string(i) + "}"));
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(http::sse::send_done(*ex));
  });
  auto reply = read_reply(*c);
  engine.join();
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->body.find("data: {\"n\":11}"), std::string::npos);
  EXPECT_EQ(done.wait(), http::Outcome::completed);
}

TEST_F(ShortWriteTimeout, AClientThatStopsReadingIsCutOff) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  // A first event that the client reads, then a pause longer than the timeout
  // (the timer fires with no write in flight), then far more than the socket
  // buffers hold, which the client does not read.
  ASSERT_TRUE(http::sse::begin(*ex));
  ASSERT_TRUE(http::sse::send_data(*ex, "{\"n\":0}"));
  ASSERT_TRUE(read_head(*c));
  auto first = read_chunk(*c);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "data: {\"n\":0}\n\n");
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(done.future.wait_for(0s) == std::future_status::ready);
  const std::string big(1024 * 1024, 'x');
  for (int i = 0; i < 64 && !ex->aborted(); ++i) (void)http::sse::send_data(*ex, big);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(done.wait(20s), http::Outcome::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_TRUE(ex->aborted());
}

TEST_F(ExchangeTest, StopAbortsInFlightExchanges) {
  auto c = connect();
  auto ex = park(*c);
  ASSERT_TRUE(ex);
  DoneProbe done;
  ex->on_done(done.callback());
  srv.server().stop();
  EXPECT_EQ(done.wait(), http::Outcome::shutdown);
  EXPECT_FALSE(ex->respond(http::Response::json(200, "{}")));
}

// ---------------------------------------------------------------- auth hook

struct TestPrincipal : http::Principal {
  std::string team;
  bool admin = false;
};

TEST(AuthHook, RunsBeforeTheHandlerAndBeforeTheBody) {
  std::atomic<int> checks{0};
  std::mutex mu;
  std::string seen_team;
  TestServer srv({}, [&](http::Server& s) {
    s.set_authenticator([&](const http::Request& req, const http::RouteOptions& route,
                            http::AuthLater) -> std::optional<http::AuthVerdict> {
      ++checks;
      std::string_view auth = req.header("authorization");
      auto p = std::make_shared<TestPrincipal>();
      http::AuthVerdict v;
      if (auth == "Bearer user") {
        p->team = "blue";
      } else if (auth == "Bearer admin") {
        p->team = "ops";
        p->admin = true;
      } else {
        v.denied = http::error_response(401, "missing or invalid API key", "invalid_api_key");
        return v;
      }
      if (route.admin && !p->admin) {
        v.denied = http::error_response(403, "admin role required", "forbidden");
        return v;
      }
      v.principal = p;
      v.log_context = "team=" + p->team;
      return v;
    });
    route(s, "POST", "/v1/thing", {}, [&](http::ExchangePtr ex) {
      const auto* p = ex->request().principal_as<TestPrincipal>();
      {
        std::lock_guard lock(mu);
        seen_team = p ? p->team : "";
      }
      ex->respond(http::Response::json(200, "{}"));
    });
    http::RouteOptions admin;
    admin.admin = true;
    route(s, "DELETE", "/admin/v1/keys/{id}", admin, [](http::ExchangePtr ex) {
      ex->respond(http::Response::json(200, "{\"revoked\":\"" + std::string(ex->request().param("id")) + "\"}"));
    });
  });

  auto c = Conn::tls(srv.port());
  ASSERT_TRUE(c);
  // Exempt routes never reach the authenticator.
  EXPECT_EQ(get(*c, "/healthz")->status, 200);
  EXPECT_EQ(get(*c, "/readyz")->status, 200);
  EXPECT_EQ(checks.load(), 0);

  // No key: 401 at once, without waiting for the announced 10 MB body.
  ASSERT_TRUE(c->send("POST /v1/thing HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  auto r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("\"type\":\"authentication_error\""), std::string::npos);
  EXPECT_NE(r->body.find("\"code\":\"invalid_api_key\""), std::string::npos);

  auto u = Conn::tls(srv.port());
  ASSERT_TRUE(u->send("POST /v1/thing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer user\r\nContent-Length: 2\r\n\r\n{}"));
  r = read_reply(*u);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_team, "blue");
  }
  ASSERT_TRUE(u->send("DELETE /admin/v1/keys/k1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer user\r\n\r\n"));
  r = read_reply(*u);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("\"type\":\"permission_error\""), std::string::npos);
  ASSERT_TRUE(u->send("DELETE /admin/v1/keys/k1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin\r\n\r\n"));
  r = read_reply(*u);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"revoked":"k1"})");
}

TEST(Offload, BlockingHandlersDoNotStallTheIoThread) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> waited_out{false};
  TestServer srv([](config::Config& c) { c.server.io_threads = 1; },
                 [&](http::Server& s) {
                   http::RouteOptions o;
                   o.offload = true;
                   route(s, "GET", "/blocking", o, [&, released](http::ExchangePtr ex) {
                     // Stands in for a slow database call.
                     if (released.wait_for(10s) != std::future_status::ready) waited_out = true;
                     ex->respond(http::Response::json(200, "{}"));
                   });
                 });
  auto blocked = Conn::tls(srv.port());
  ASSERT_TRUE(blocked->send("GET /blocking HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto c = Conn::tls(srv.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(get(*c, "/healthz")->status, 200);  // served by the single I/O thread meanwhile
  release.set_value();
  auto r = read_reply(*blocked);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(waited_out.load());
}

}  // namespace
}  // namespace llmd::test
