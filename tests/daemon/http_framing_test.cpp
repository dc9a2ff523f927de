// Request smuggling and framing (RFC 9112 sections 5, 6 and 7): every way a
// request's end can be in doubt is answered 400 (501 for a transfer coding
// the server does not implement) and the connection closes, so the bytes
// behind it are never served as a next request. One table, each case sent
// over a real TLS connection with a valid request behind it. And the header
// block limit holds exactly, however the block arrives.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "daemon/http/exchange.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kHeaderLimit = 1024;

class HttpFramingTest : public ::testing::Test {
 protected:
  std::atomic<int> handled{0};
  TestServer srv{[](config::Config& c) { c.limits.header_bytes = kHeaderLimit; },
                 [this](http::Server& s) {
                   route(s, "POST", "/echo", {}, [this](http::ExchangePtr ex) {
                     ++handled;
                     ex->respond(http::Response::text(200, ex->request().body));
                   });
                 }};

  std::unique_ptr<Conn> connect() {
    std::string err;
    auto c = Conn::tls(srv.port(), {}, &err);
    EXPECT_TRUE(c) << err;
    if (c) c->set_timeout(10s);
    return c;
  }
};

// What a smuggler would hide behind the request under test.
const std::string kSmuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

struct BadFraming {
  const char* what;
  std::string request;
  int status;
};

std::string post_head(const std::string& fields) { return "POST /echo HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n"; }

TEST_F(HttpFramingTest, AmbiguousFramingIsRefusedAndTheConnectionCloses) {
  const BadFraming cases[] = {
      // Transfer-Encoding
      {"TE gzip alone", post_head("Transfer-Encoding: gzip\r\n"), 400},
      {"TE whose last coding is not chunked", post_head("Transfer-Encoding: chunked, gzip\r\n") + "0\r\n\r\n", 400},
      {"TE identity", post_head("Transfer-Encoding: identity\r\n"), 400},
      {"TE chunked twice in one field", post_head("Transfer-Encoding: chunked, chunked\r\n") + "0\r\n\r\n", 400},
      {"TE chunked in two fields", post_head("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400},
      {"TE gzip then chunked fields", post_head("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 501},
      {"TE gzip, chunked", post_head("Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n", 501},
      {"TE empty element", post_head("Transfer-Encoding: ,chunked\r\n") + "0\r\n\r\n", 400},
      {"TE with a parameter", post_head("Transfer-Encoding: chunked;x=1\r\n") + "0\r\n\r\n", 400},
      {"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      // Content-Length with Transfer-Encoding, in both orders
      {"CL then TE", post_head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400},
      {"TE then CL", post_head("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n", 400},
      {"TE gzip then CL", post_head("Transfer-Encoding: gzip\r\nContent-Length: 5\r\n") + "hello", 400},
      // Content-Length
      {"CL twice, equal", post_head("Content-Length: 5\r\nContent-Length: 5\r\n") + "hello", 400},
      {"CL list of equal values", post_head("Content-Length: 5, 5\r\n") + "hello", 400},
      {"CL twice, different", post_head("Content-Length: 5\r\nContent-Length: 6\r\n") + "hello", 400},
      {"CL with a sign", post_head("Content-Length: +5\r\n") + "hello", 400},
      {"CL in hex", post_head("Content-Length: 0x5\r\n") + "hello", 400},
      {"CL empty", post_head("Content-Length: \r\n"), 400},
      // Chunk sizes and extensions
      {"chunk size not hex", post_head("Transfer-Encoding: chunked\r\n") + "zz\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size negative", post_head("Transfer-Encoding: chunked\r\n") + "-5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size overflows 64 bits", post_head("Transfer-Encoding: chunked\r\n") + "1ffffffffffffffff\r\nx\r\n0\r\n\r\n", 400},
      {"chunk size with 0x", post_head("Transfer-Encoding: chunked\r\n") + "0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size after a space", post_head("Transfer-Encoding: chunked\r\n") + " 5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk data longer than its size", post_head("Transfer-Encoding: chunked\r\n") + "3\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size line ends in LF", post_head("Transfer-Encoding: chunked\r\n") + "5\nhello\r\n0\r\n\r\n", 400},
      {"chunk extension with a control byte", post_head("Transfer-Encoding: chunked\r\n") + "5;a\x01\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk extension with an open quote", post_head("Transfer-Encoding: chunked\r\n") + "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk extension without a name", post_head("Transfer-Encoding: chunked\r\n") + "5;=b\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size line longer than the limit",
       post_head("Transfer-Encoding: chunked\r\n") + "5" + std::string(kHeaderLimit, ';') + "\r\nhello\r\n0\r\n\r\n", 400},
      {"no CRLF after chunk data", post_head("Transfer-Encoding: chunked\r\n") + "5\r\nhelloXX0\r\n\r\n", 400},
      {"obs-fold in the trailer", post_head("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400},
      {"bare LF in the trailer", post_head("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\nX-T: a\n\r\n", 400},
      // The header block itself
      {"obs-fold", post_head("Content-Length: 5\r\nX-Folded: a\r\n b\r\n") + "hello", 400},
      {"obs-fold with a tab", post_head("X-Folded: a\r\n\tContent-Length: 5\r\n") + "hello", 400},
      {"a field line that starts with a space", "POST /echo HTTP/1.1\r\n Content-Length: 5\r\nHost: x\r\n\r\nhello", 400},
      {"bare CR in a value", post_head("X-A: a\rContent-Length: 5\r\n") + "hello", 400},
      {"bare LF ends a field", "POST /echo HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello", 400},
      {"bare LF ends the request line", "POST /echo HTTP/1.1\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"bare LF ends the block", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\nhello", 400},
      {"CR CR LF", "POST /echo HTTP/1.1\r\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"NUL in a value", post_head(std::string("X-A: a\0b\r\nContent-Length: 5\r\n", 28)) + "hello", 400},
      {"space before the colon", post_head("Content-Length : 5\r\n") + "hello", 400},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.what);
    auto c = connect();
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send(bad.request + kSmuggled));
    auto r = read_reply(*c);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, bad.status);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_NE(r->body.find(bad.status == 501 ? "not_implemented" : "invalid_http_request"), std::string::npos)
        << r->body;
    // Nothing behind the refused request is answered: the connection ends.
    std::string rest = c->read_to_eof();
    EXPECT_EQ(rest.find("HTTP/1.1"), std::string::npos) << rest;
    EXPECT_FALSE(c->timed_out());
  }
  EXPECT_EQ(handled.load(), 0);
}

// The same requests framed soundly are served, and the connection goes on.
TEST_F(HttpFramingTest, SoundFramingIsServedAndTheConnectionStaysOpen) {
  const std::string good[] = {
      post_head("Content-Length: 5\r\n") + "hello",
      post_head("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n",
      post_head("Transfer-Encoding: Chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n",
      post_head("Transfer-Encoding: chunked\r\n") + "5;name=value;q=\"x y\"\r\nhello\r\n0\r\n\r\n",
      post_head("Transfer-Encoding: chunked\r\n") + "00005\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
      post_head("Content-Length:5\r\nX-Tab:\ta\t\r\n") + "hello",
  };
  auto c = connect();
  ASSERT_TRUE(c);
  for (const auto& req : good) {
    SCOPED_TRACE(req);
    ASSERT_TRUE(c->send(req));
    auto r = read_reply(*c);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    EXPECT_NE(r->header("connection"), "close");
  }
  EXPECT_EQ(handled.load(), static_cast<int>(std::size(good)));
}

// A GET whose header block is exactly `size` bytes, the empty line included.
std::string get_of_size(std::size_t size) {
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  const std::string tail = "\r\n\r\n";
  return head + std::string(size - head.size() - tail.size(), 'p') + tail;
}

TEST_F(HttpFramingTest, HeaderLimitIsExact) {
  auto c = connect();
  ASSERT_TRUE(c);
  auto r = (c->send(get_of_size(kHeaderLimit)), read_reply(*c));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  ASSERT_TRUE(c->send(get_of_size(kHeaderLimit + 1)));
  r = read_reply(*c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c->wait_closed(10s));
}

// Beast applies its limit to each call's window: fed in parts, a header block
// used to reach about twice the limit. Each part here is a few whole fields,
// so that the parser consumes them as they come.
TEST_F(HttpFramingTest, HeaderLimitHoldsWhenTheBlockArrivesInParts) {
  for (std::size_t total : {kHeaderLimit + 50, kHeaderLimit + kHeaderLimit / 2, 2 * kHeaderLimit - 100}) {
    SCOPED_TRACE(total);
    auto c = connect();
    ASSERT_TRUE(c);
    std::string line = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    std::size_t sent_bytes = 0;
    bool sent = true;
    for (int i = 0; sent && sent_bytes + 2 <= total; ++i) {
      sent = c->send(line);
      sent_bytes += line.size();
      std::this_thread::sleep_for(20ms);  // so that the parser takes each part on its own
      line = "X-P" + std::to_string(i) + ": " + std::string(100, 'p') + "\r\n";
    }
    if (sent) c->send("\r\n");
    auto r = read_reply(*c);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(c->wait_closed(10s));
  }
  auto ok = connect();
  EXPECT_EQ(get(*ok, "/healthz")->status, 200);
}

}  // namespace
}  // namespace llmd::test
