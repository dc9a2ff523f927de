// Structured journal fields: the access-log line hands MODEL=, TEAM= and
// REQUEST_ID= to the logging sink; the journal entry built from a record;
// JOURNAL_STREAM matched against a real file descriptor. When a journald is
// running, a record sent through the journal sink is read back with journalctl.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/log.hpp"
#include "daemon/http/access_log.hpp"
#include "daemon/system/journal.hpp"
#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/files.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

struct Captured {
  std::string message;
  std::vector<std::pair<std::string, std::string>> fields;
};
std::mutex g_mu;
std::vector<Captured> g_records;

void capture(log::Level, std::string_view message, std::span<const log::Field> fields) {
  std::lock_guard lock(g_mu);
  Captured c;
  c.message = std::string(message);
  for (const auto& f : fields) c.fields.emplace_back(std::string(f.name), std::string(f.value));
  g_records.push_back(std::move(c));
}

std::string field(const Captured& c, const std::string& name) {
  for (const auto& [n, v] : c.fields) {
    if (n == name) return v;
  }
  return "<absent>";
}

TEST(JournalFields, TheAccessLineCarriesModelTeamAndRequestId) {
  log::set_sink(capture);
  http::AccessRecord r;
  r.remote = "127.0.0.1:5000";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.status = 200;
  r.id = "req_abc123";
  r.context = " key=k1 team=research model=qwen-7b tokens=5+7";
  http::write_access_log(r);
  http::AccessRecord bare;  // no request yet: no model or team
  bare.remote = "127.0.0.1:5001";
  bare.status = 400;
  http::write_access_log(bare);
  log::set_sink(nullptr);

  std::lock_guard lock(g_mu);
  ASSERT_EQ(g_records.size(), 2u);
  EXPECT_NE(g_records[0].message.find("access remote=127.0.0.1:5000 method=POST"), std::string::npos);
  EXPECT_EQ(field(g_records[0], "MODEL"), "qwen-7b");
  EXPECT_EQ(field(g_records[0], "TEAM"), "research");
  EXPECT_EQ(field(g_records[0], "REQUEST_ID"), "req_abc123");
  EXPECT_EQ(field(g_records[1], "MODEL"), "");
  EXPECT_EQ(field(g_records[1], "TEAM"), "");
  g_records.clear();
}

TEST(JournalFields, EntryHoldsMessagePriorityIdentifierAndValidFields) {
  const log::Field fields[] = {
      {"MODEL", "qwen"}, {"TEAM", "ops"}, {"REQUEST_ID", "req_1"},
      {"lower", "x"},      // not a journal field name: dropped
      {"_PID", "1"},       // trusted fields belong to journald: dropped
      {"PRIORITY", "0"},   // cannot override the record's own
      {"TEAM2", ""},       // empty: dropped
  };
  auto e = daemon::journal_entry(log::Level::warning, "a line\nwith a newline", fields);
  std::vector<std::string> want = {"MESSAGE=a line\nwith a newline", "PRIORITY=4", "SYSLOG_IDENTIFIER=llmd",
                                   "MODEL=qwen", "TEAM=ops", "REQUEST_ID=req_1"};
  EXPECT_EQ(e, want);
}

TEST(JournalFields, JournalStreamMatchesOnlyItsOwnFile) {
  TempDir dir;
  write_file(dir / "a", "x");
  write_file(dir / "b", "y");
  int a = ::open((dir / "a").c_str(), O_RDONLY | O_CLOEXEC);
  int b = ::open((dir / "b").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  struct stat st{};
  ASSERT_EQ(::fstat(a, &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(daemon::journal_stream_matches(stream, a));
  EXPECT_FALSE(daemon::journal_stream_matches(stream, b));
  for (const char* bad : {"", ":", "12", "12:", ":34", "x:y", "1:2:3", "-1:5"}) {
    EXPECT_FALSE(daemon::journal_stream_matches(bad, a)) << bad;
  }
  ::close(a);
  ::close(b);
}

// Only where a journald runs (not in most containers): the fields are
// searchable with journalctl.
TEST(JournalFields, ReadBackWithJournalctlWhenJournaldRuns) {
  if (!std::filesystem::exists("/run/systemd/journal/socket") || !std::filesystem::exists("/usr/bin/journalctl")) {
    GTEST_SKIP() << "no journald on this machine";
  }
  const std::string id = "req_journal_test_" + std::to_string(::getpid());
  // The sink is installed only with JOURNAL_STREAM matching stderr; point it
  // at stderr's own file for this check.
  struct stat st{};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
  ASSERT_TRUE(daemon::use_journal_when_connected());
  http::AccessRecord r;
  r.remote = "127.0.0.1:1";
  r.status = 200;
  r.id = id;
  r.context = "team=journal-test model=journal-model";
  http::write_access_log(r);
  log::set_sink(nullptr);
  ::unsetenv("JOURNAL_STREAM");
  RunResult out;
  for (int i = 0; i < 50; ++i) {
    out = run_command({"/usr/bin/journalctl", "--no-pager", "-o", "verbose", "REQUEST_ID=" + id});
    if (out.output.find("MODEL=journal-model") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(out.output.find("MODEL=journal-model"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("TEAM=journal-test"), std::string::npos) << out.output;
}

}  // namespace
}  // namespace llmd::test
