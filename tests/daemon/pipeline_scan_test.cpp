// PipelineScan: whole requests found in bytes that arrive piecemeal (bodies
// with a length or chunked, skipped), the hand-over as the session reads each
// one in its turn, and a stop at malformed bytes.
#include <gtest/gtest.h>

#include <string>

#include "daemon/http/pipeline_scan.hpp"

namespace llmd::http::detail {
namespace {

const std::string kGet = "GET /healthz?secret=1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: g-1\r\n\r\n";
const std::string kPost = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
const std::string kChunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

TEST(PipelineScan, FindsWholeRequestsInBytesThatArrivePiecemeal) {
  const std::string wire = kPost + kGet + kChunked + "GET /partial HTTP/1.1\r\nHo";
  PipelineScan scan(16 * 1024);
  // One byte at a time: the scan sees each prefix of the buffer in turn.
  for (std::size_t n = 1; n <= wire.size(); ++n) scan.scan(std::string_view(wire).substr(0, n));
  ASSERT_EQ(scan.whole().size(), 3u);
  EXPECT_EQ(scan.whole()[0].method, "POST");
  EXPECT_EQ(scan.whole()[0].path, "/v1/completions");
  EXPECT_EQ(scan.whole()[0].bytes, kPost.size());
  EXPECT_EQ(scan.whole()[0].id, "");
  EXPECT_EQ(scan.whole()[1].path, "/healthz");  // without the query
  EXPECT_EQ(scan.whole()[1].id, "g-1");
  EXPECT_EQ(scan.whole()[1].bytes, kGet.size());
  EXPECT_EQ(scan.whole()[2].bytes, kChunked.size());
}

TEST(PipelineScan, FollowsTheSessionAsItReadsEachRequest) {
  PipelineScan scan(16 * 1024);
  std::string buffer = kPost + kGet + "GET /third HTTP/1.1\r\n";
  scan.scan(buffer);
  ASSERT_EQ(scan.whole().size(), 2u);
  // The session reads the POST: the first one seen becomes the current one.
  scan.begin_next();
  buffer.erase(0, kPost.size());
  scan.current_read(kPost.size());
  ASSERT_EQ(scan.whole().size(), 1u);
  EXPECT_EQ(scan.whole()[0].path, "/healthz");
  // The rest of the third request arrives while the POST is handled.
  buffer += "Host: x\r\n\r\n";
  scan.scan(buffer);
  ASSERT_EQ(scan.whole().size(), 2u);
  EXPECT_EQ(scan.whole()[1].path, "/third");
  // A session that measured a request differently wins: the scan starts over.
  scan.begin_next();
  buffer.erase(0, kGet.size() - 2);
  scan.current_read(kGet.size() - 2);
  EXPECT_TRUE(scan.whole().empty());
  scan.scan(buffer);  // "\r\n" then the third request: a malformed start
  EXPECT_TRUE(scan.whole().empty());
  // With nothing seen, the next request is scanned afresh behind the current one.
  scan.clear();
  scan.begin_next();
  scan.current_read(5);
  scan.scan(kGet);
  EXPECT_EQ(scan.whole().size(), 1u);
}

TEST(PipelineScan, StopsCountingAtMalformedBytes) {
  PipelineScan scan(16 * 1024);
  scan.scan(kGet + "GARBAGE\r\n\r\n" + kGet);
  EXPECT_EQ(scan.whole().size(), 1u);
  PipelineScan small(64);
  small.scan(kGet + "GET / HTTP/1.1\r\nX-Long: " + std::string(200, 'a') + "\r\n\r\n");
  EXPECT_EQ(small.whole().size(), 1u);  // the second one's headers exceed the limit
}

// A request the session refuses for its framing (and closes on) ends the
// count: what follows it was never a request of this connection.
TEST(PipelineScan, StopsCountingAtFramingTheSessionRefuses) {
  const std::string refused[] = {
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
      "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  };
  for (const auto& bad : refused) {
    SCOPED_TRACE(bad);
    PipelineScan scan(16 * 1024);
    scan.scan(kGet + bad + kGet);
    EXPECT_EQ(scan.whole().size(), 1u);
  }
}

}  // namespace
}  // namespace llmd::http::detail
