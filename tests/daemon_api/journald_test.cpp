// llmd under journald as systemd runs it (stdout and stderr a journal stream,
// JOURNAL_STREAM naming it): its log lines are journal entries, and a
// request's access line is found with journalctl by its REQUEST_ID=, MODEL=
// and TEAM= fields. It needs a journald, which CI machines do not run: the
// ctest `journald_readback` starts one of its own in a private mount
// namespace (journald/with_private_journald.sh, as root) and runs this test
// there; elsewhere it skips.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

TEST(JournaldReadBack, AccessLinesOfAServingDaemonAreFoundByRequestModelAndTeam) {
  if (!std::getenv("LLMD_TEST_JOURNALD"))
    GTEST_SKIP() << "needs a journald: the ctest journald_readback runs this under one of its own";
  ApiServerOptions o;
  o.binary = std::string(LLMD_SOURCE_DIR) + "/tests/daemon_api/journald/llmd_on_journal.sh";
  o.env = {"LLMD_REAL_BIN=" + std::string(LLMD_BIN)};
  ApiServer server(o);
  // The server's output is what the relay read back from the journal, so
  // its ready line (the port) already came through journald.
  ASSERT_TRUE(server.ok()) << server.logs();

  const std::string key = server.make_team_key(R"({"name":"journaled","weight":1})");
  ASSERT_FALSE(key.empty());
  const auto res = server.call("POST", "/v1/completions",
                               R"({"model":"synth","prompt":"hello","max_tokens":4,"temperature":0})", &key);
  ASSERT_EQ(res.status, 200) << res.body;
  const std::string id = res.header("x-request-id");
  ASSERT_FALSE(id.empty());

  RunResult found;
  for (int i = 0; i < 100; ++i) {
    found = run_command({"/usr/bin/journalctl", "--no-pager", "-o", "verbose", "REQUEST_ID=" + id});
    if (found.output.find("MODEL=synth") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  const std::string& entry = found.output;
  EXPECT_NE(entry.find("MODEL=synth"), std::string::npos) << entry;
  EXPECT_NE(entry.find("TEAM=journaled"), std::string::npos) << entry;
  EXPECT_NE(entry.find("REQUEST_ID=" + id), std::string::npos) << entry;
  // Sent as a structured entry, not a line on the stream.
  EXPECT_NE(entry.find("_TRANSPORT=journal"), std::string::npos) << entry;
  EXPECT_NE(entry.find("SYSLOG_IDENTIFIER=llmd"), std::string::npos) << entry;
  EXPECT_NE(entry.find("/v1/completions"), std::string::npos) << entry;
  // No secret in the journal: the key never appears in any entry.
  const RunResult all = run_command({"/usr/bin/journalctl", "--no-pager", "-o", "verbose"});
  EXPECT_EQ(all.output.find(key), std::string::npos);
  EXPECT_EQ(all.output.find(server.admin_key()), std::string::npos);
  server.stop();
}

}  // namespace
}  // namespace llmd::test
