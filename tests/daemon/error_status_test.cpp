// The one ErrorCode -> HTTP mapping: storage failures answer 503 with
// Retry-After and a message that does not leak file names or SQLite's words.
#include <gtest/gtest.h>

#include "daemon/http/error_status.hpp"

namespace llmd::test {
namespace {

TEST(ErrorStatus, StorageFailuresAre503WithRetryAfter) {
  for (ErrorCode code : {ErrorCode::storage_error, ErrorCode::storage_full, ErrorCode::storage_read_only,
                         ErrorCode::storage_io, ErrorCode::storage_corrupt}) {
    SCOPED_TRACE(std::string(to_string(code)));
    EXPECT_EQ(http::http_status(code), 503);
    http::Response r =
        http::error_response_for(Error(code, "database insert failed: disk I/O error in /var/lib/llmd/llmd.db"), {}, 5);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.headers.get("retry-after"), "5");
    EXPECT_NE(r.body.find("\"code\":\"storage_unavailable\""), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("/var/lib"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("I/O"), std::string::npos) << r.body;
  }
  http::Response busy = http::error_response_for(Error(ErrorCode::storage_busy, "database is locked"));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.headers.get("retry-after"), "1");
  EXPECT_NE(busy.body.find("\"code\":\"server_busy\""), std::string::npos) << busy.body;
}

TEST(ErrorStatus, OtherCodesKeepTheirStatus) {
  EXPECT_EQ(http::http_status(ErrorCode::storage_constraint), 500);
  EXPECT_EQ(http::http_status(ErrorCode::team_not_found), 404);
  EXPECT_EQ(http::http_status(ErrorCode::invalid_request), 400);
  http::Response r = http::error_response_for(Error(ErrorCode::invalid_request, "bad field"));
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.headers.has("retry-after"));
}

}  // namespace
}  // namespace llmd::test
