// A device that fails for good (a sticky CUDA error; here a real backend
// made to fail by the test daemon): the requests on it end with 503, the
// daemon drains, settles every usage row and exits non-zero so that
// systemd's Restart=on-failure brings it back.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

TEST(DeviceFailure, RequestsGet503TheLedgerIsSettledAndLlmdExitsNonZero) {
  ApiServerOptions o;
  o.binary = LLMD_TEST_DAEMON;
  o.env = {"LLMD_TEST_BACKEND_FAILS_AFTER=6"};
  ApiServer server(o);
  ASSERT_TRUE(server.ok());
  // The first steps work; the sixth breaks the device.
  auto first = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"hello","max_tokens":3,"temperature":0})");
  EXPECT_EQ(first.status, 200) << first.body;
  auto broken = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"again","max_tokens":20,"temperature":0})");
  EXPECT_EQ(broken.status, 503) << broken.body;
  // llmd stops by itself, with a failure status.
  const auto status = server.wait_exit(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << server.logs();
  EXPECT_EQ(*status, 1) << server.logs();
  const std::string logs = server.logs();
  EXPECT_NE(logs.find("its device failed; stopping llmd so that it is restarted"), std::string::npos) << logs;
  // Every usage row was settled: none is left open.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(server.database_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*), sum(status = 'open') FROM usage", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 2);
  EXPECT_EQ(sqlite3_column_int(st, 1), 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

}  // namespace
}  // namespace llmd::test
