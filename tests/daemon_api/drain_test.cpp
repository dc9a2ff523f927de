// SIGTERM while 200 streams are open on the production llmd: the drain lets
// every in-flight stream finish (its last chunk, its usage and [DONE], then
// the chunked body's end) within drain_timeout_s, the process exits 0, and
// the ledger (the real SQLite file) has settled every request: no open row,
// nothing reserved, counters equal to the rows.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "storage/migrations.hpp"
#include "storage/usage_ledger.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

constexpr int kStreams = 200;
constexpr int kMaxTokens = 400;  // long enough that all are still generating at the signal
constexpr int kDrainTimeoutS = 120;

int64_t scalar(storage::Database& db, storage::Sql sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.ok());
  if (!st.ok()) return -1;
  auto row = st->step();
  EXPECT_TRUE(row.ok() && *row);
  return st->column_int(0);
}

// 200 client connections and the server's own: more than some defaults allow.
void raise_fd_limit(rlim_t want) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur >= want) return;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min<rlim_t>(want, lim.rlim_max);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  ASSERT_GE(lim.rlim_cur, static_cast<rlim_t>(kStreams + 64)) << "the file-descriptor limit is too low for this test";
}

// Reads SSE data from the stream until the first whole event.
std::string read_first_event(Conn& c) {
  std::string data;
  while (data.find("\n\n") == std::string::npos) {
    auto chunk = read_chunk(c);
    if (!chunk || chunk->empty()) return data;
    data += *chunk;
  }
  return data;
}

TEST(Drain, SigtermWithTwoHundredOpenStreamsEndsEveryStreamAndSettlesTheLedger) {
  ASSERT_NO_FATAL_FAILURE(raise_fd_limit(4096));
  ApiServerOptions opts;
  opts.max_sequences = 256;
  opts.models_extra = "max_waiting = 512\nmax_waiting_per_team = 512\n";
  opts.drain_timeout_s = kDrainTimeoutS;
  opts.limits = "max_connections = 1024\nmax_connections_per_client = 0\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  const std::string key = server.make_team_key(R"({"name":"drain","weight":1})");
  ASSERT_FALSE(key.empty());

  std::vector<std::unique_ptr<Conn>> streams;
  for (int i = 0; i < kStreams; ++i) {
    std::string error;
    auto c = Conn::tls(server.port(), {}, &error);
    ASSERT_TRUE(c) << "connection " << i << ": " << error;
    c->set_timeout(std::chrono::seconds(kDrainTimeoutS));
    const std::string body = R"({"model":"synth","messages":[{"role":"user","content":"Tell story )" +
                             std::to_string(i) + R"("}],"max_tokens":)" + std::to_string(kMaxTokens) +
                             R"(,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})";
    ASSERT_TRUE(c->send(http_post("/v1/chat/completions", body, key)));
    streams.push_back(std::move(c));
  }
  // Every stream has been admitted and is generating: its head and first event arrived.
  for (int i = 0; i < kStreams; ++i) {
    auto head = read_head(*streams[i]);
    ASSERT_TRUE(head) << "stream " << i;
    ASSERT_EQ(head->status, 200) << "stream " << i << ": " << head->body;
    std::string first = read_first_event(*streams[i]);
    ASSERT_EQ(first.rfind("data: {", 0), 0u) << "stream " << i << ": " << first;
    ASSERT_EQ(first.find("[DONE]"), std::string::npos) << "stream " << i << " ended before the signal";
  }

  // None has finished yet: the ledger holds 200 open requests.
  auto usage = server.call("GET", "/admin/v1/usage?team=drain", "", &server.admin_key());
  ASSERT_EQ(usage.status, 200) << usage.body;
  boost::json::value v = boost::json::parse(usage.body);
  ASSERT_FALSE(v.at("data").as_array().empty()) << usage.body;
  ASSERT_EQ(v.at("data").as_array()[0].at("in_flight").as_int64(), kStreams) << "some stream finished before the signal";

  const auto signalled = std::chrono::steady_clock::now();
  server.signal(SIGTERM);

  // Each stream ends the way a stream that was never interrupted ends.
  for (int i = 0; i < kStreams; ++i) {
    Conn& c = *streams[i];
    std::string data;
    bool ended = false;
    while (auto chunk = read_chunk(c)) {
      if (chunk->empty()) {
        ended = true;
        break;
      }
      data += *chunk;
    }
    ASSERT_TRUE(ended) << "stream " << i << " was cut off after " << data.size() << " bytes: "
                       << data.substr(data.size() > 300 ? data.size() - 300 : 0);
    EXPECT_NE(data.find(R"("finish_reason":"length")"), std::string::npos) << "stream " << i;
    EXPECT_NE(data.find(R"("completion_tokens":)" + std::to_string(kMaxTokens)), std::string::npos)
        << "stream " << i << ": no usage chunk";
    ASSERT_GE(data.size(), 14u);
    EXPECT_EQ(data.substr(data.size() - 14), "data: [DONE]\n\n") << "stream " << i;
    EXPECT_TRUE(c.wait_closed(10s)) << "stream " << i << ": the connection stayed open after the drain";
  }
  const auto drained = std::chrono::steady_clock::now() - signalled;
  EXPECT_LT(drained, std::chrono::seconds(kDrainTimeoutS));

  auto status = server.wait_exit(std::chrono::seconds(kDrainTimeoutS + 30));
  ASSERT_EQ(status, std::optional<int>(0)) << server.logs();
  std::printf("200 streams drained in %.1f s\n", std::chrono::duration<double>(drained).count());

  auto db = storage::open_database(server.database_path());
  ASSERT_TRUE(db.ok()) << db.error().message;
  auto st = (*db)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "ok");
  EXPECT_EQ(scalar(**db, "SELECT count(*) FROM usage u JOIN teams t ON t.id = u.team_id"
                         " WHERE t.name = 'drain' AND u.status = 'ok'"),
            kStreams);
  EXPECT_EQ(scalar(**db, "SELECT coalesce(sum(u.completion_tokens), 0) FROM usage u JOIN teams t ON t.id = u.team_id"
                         " WHERE t.name = 'drain'"),
            int64_t{kStreams} * kMaxTokens);
  EXPECT_EQ(scalar(**db, "SELECT count(*) FROM usage WHERE status = 'open'"), 0);
  EXPECT_EQ(scalar(**db, "SELECT coalesce(sum(reserved_tokens), 0) FROM budget_usage"), 0);
  auto check = storage::check_ledger(**db);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->consistent()) << (check->problems.empty() ? "" : check->problems[0]);
  EXPECT_EQ(check->open_rows, 0);
}

}  // namespace
}  // namespace llmd::test
