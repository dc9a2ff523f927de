// Clients that go away, read too slowly or find the queue full: their requests
// are aborted at the next engine step, their KV blocks return to the pool,
// usage is settled for what was produced, and the server keeps serving.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A long generation: the synthetic model would otherwise stop at random.
std::string long_stream(int max_tokens, const std::string& extra = "") {
  return R"({"model":"synth","prompt":"Hello there","max_tokens":)" + std::to_string(max_tokens) +
         R"(,"ignore_eos":true,"stream":true)" + extra + "}";
}

int64_t counter(const boost::json::object& stats, const char* group, const char* name) {
  if (!stats.contains(group)) return -1;
  return stats.at(group).at(name).as_int64();
}

// One request was aborted and every KV block is free again.
bool one_aborted_and_blocks_freed(const boost::json::object& s) {
  return counter(s, "requests", "aborted") == 1 && counter(s, "kv_cache", "blocks_used") == 0;
}

// Reads the response head and `events` SSE events of a stream.
void read_events(Conn& c, int events) {
  auto head = read_head(c);
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  ASSERT_EQ(head->header("content-type").rfind("text/event-stream", 0), 0u);
  int seen = 0;
  std::string data;
  while (seen < events) {
    auto chunk = read_chunk(c);
    ASSERT_TRUE(chunk && !chunk->empty()) << "the stream ended early";
    data += *chunk;
    for (size_t at = data.find("\n\n"); at != std::string::npos; at = data.find("\n\n")) {
      ASSERT_EQ(data.rfind("data: {", 0), 0u) << data;
      data.erase(0, at + 2);
      ++seen;
    }
  }
}

TEST(Disconnect, TwentyStreamsDroppedMidwayFreeTheirBlocksWithinASecond) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 20; ++i) {
    const char* path = i % 2 ? "/v1/completions" : "/v1/chat/completions";
    std::string body = i % 2 ? long_stream(400)
                             : R"({"model":"synth","messages":[{"role":"user","content":"Hi )" + std::to_string(i) +
                                   R"("}],"max_tokens":400,"ignore_eos":true,"stream":true})";
    conns.push_back(server.send(path, body));
    ASSERT_TRUE(conns.back());
  }
  for (auto& c : conns) ASSERT_NO_FATAL_FAILURE(read_events(*c, 3));
  auto busy = server.model_stats();
  EXPECT_EQ(counter(busy, "requests", "running"), 20);
  EXPECT_GE(counter(busy, "kv_cache", "blocks_used"), 20);  // at least one block each
  const int64_t aborted_before = counter(busy, "requests", "aborted");

  const auto dropped = Clock::now();
  conns.clear();  // closes every connection mid-stream
  const bool freed = server.wait_stats(
      [](const boost::json::object& s) { return counter(s, "kv_cache", "blocks_used") == 0; }, 1000ms);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - dropped);
  EXPECT_TRUE(freed) << "KV blocks still used 1 s after the clients left";
  auto after = server.model_stats();
  EXPECT_EQ(counter(after, "requests", "aborted") - aborted_before, 20);
  EXPECT_EQ(counter(after, "requests", "running"), 0);
  std::printf("blocks back to 0 %lld ms after 20 streams dropped\n", static_cast<long long>(took.count()));

  // The server goes on serving.
  auto ok = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"Hello","max_tokens":3})");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(Disconnect, AWholeResponseClientThatLeavesAbortsItsRequest) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  auto c = server.send("/v1/completions",
                       R"({"model":"synth","prompt":"Hello there","max_tokens":480,"ignore_eos":true,"n":4})");
  ASSERT_TRUE(c);
  ASSERT_TRUE(server.wait_stats([](const boost::json::object& s) { return counter(s, "requests", "running") == 4; }, 10s));
  c.reset();
  EXPECT_TRUE(server.wait_stats(
      [](const boost::json::object& s) {
        return counter(s, "kv_cache", "blocks_used") == 0 && counter(s, "requests", "aborted") == 1;
      },
      1000ms));
}

TEST(Disconnect, ACancelledStreamIsChargedForWhatItProduced) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  {
    auto c = server.send("/v1/completions", long_stream(400));
    ASSERT_TRUE(c);
    ASSERT_NO_FATAL_FAILURE(read_events(*c, 5));
  }
  ASSERT_TRUE(server.wait_stats([](const boost::json::object& s) { return counter(s, "requests", "aborted") == 1; }, 2s));
  // Settlement goes through the ledger's thread: poll the usage report.
  boost::json::object row;
  for (int i = 0; i < 200; ++i) {
    auto res = server.call("GET", "/admin/v1/usage?team=api", "", &server.admin_key());
    ASSERT_EQ(res.status, 200) << res.body;
    auto v = boost::json::parse(res.body);
    const auto& data = v.at("data").as_array();
    if (!data.empty() && data[0].at("in_flight").as_int64() == 0) {
      row = data[0].as_object();
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(row.empty()) << "the usage row stayed open";
  EXPECT_EQ(row.at("requests").as_int64(), 1);
  EXPECT_EQ(row.at("cancelled").as_int64(), 1);
  EXPECT_GE(row.at("completion_tokens").as_int64(), 5);  // at least the tokens the client saw
  EXPECT_LT(row.at("completion_tokens").as_int64(), 400);
  EXPECT_GT(row.at("prompt_tokens").as_int64(), 0);
}

TEST(Disconnect, ASlowReaderIsBufferedUpToTheBoundThenAborted) {
  // A small stream buffer, and a client that stops reading with a small
  // receive window: the server's queue for it overflows and the stream ends.
  // 16 choices of 500 tokens with 20 alternatives each make ~10 MB, more than
  // the kernel's socket buffers can absorb (the server's send buffer grows to 4 MB).
  ApiServerOptions opts;
  opts.limits = "stream_buffer_bytes = 16384\n";
  opts.models_extra = "max_choices = 16\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  std::string error;
  auto c = Conn::tls(server.port(), {}, &error);
  ASSERT_TRUE(c) << error;
  int small = 4096;
  ::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(c->send(http_post("/v1/chat/completions",
                                R"({"model":"synth","messages":[{"role":"user","content":"Hi"}],"max_tokens":500,)"
                                R"("ignore_eos":true,"stream":true,"logprobs":true,"top_logprobs":20,"n":16})",
                                server.user_key())));
  // Not reading: the request is aborted and its blocks freed while the client
  // still holds the connection open.
  EXPECT_TRUE(server.wait_stats(one_aborted_and_blocks_freed, 20s)) << server.logs();
  // The server closed the connection: reading drains what was buffered, then ends.
  c->set_timeout(5000ms);
  EXPECT_TRUE(c->wait_closed(10s));
}

TEST(Disconnect, AStreamWhoseFirstBytesOverflowTheBufferIsAborted) {
  // 64 choices open the stream with 64 role chunks, more than the smallest
  // stream buffer holds: the very first write overflows. The request ends,
  // its blocks are freed, and the server goes on serving.
  ApiServerOptions opts;
  opts.limits = "stream_buffer_bytes = 4096\n";
  opts.max_sequences = 64;
  opts.models_extra = "max_choices = 64\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  auto c = server.send("/v1/chat/completions",
                       R"({"model":"synth","messages":[{"role":"user","content":"Hi"}],"max_tokens":400,)"
                       R"("ignore_eos":true,"stream":true,"n":64})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(server.wait_stats(one_aborted_and_blocks_freed, 20s)) << server.logs();
  c->set_timeout(5000ms);
  EXPECT_TRUE(c->wait_closed(10s));
  auto res = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"Hi","max_tokens":4})",
                         &server.user_key());
  EXPECT_EQ(res.status, 200) << res.body;
}

TEST(Disconnect, AFullQueueAnswers503WithRetryAfter) {
  ApiServerOptions opts;
  opts.max_sequences = 1;
  opts.models_extra = "max_choices = 1\nmax_waiting = 1\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  auto running = server.send("/v1/completions", long_stream(480));
  ASSERT_NO_FATAL_FAILURE(read_events(*running, 1));
  auto waiting = server.send("/v1/completions", long_stream(480));
  ASSERT_TRUE(server.wait_stats([](const boost::json::object& s) { return counter(s, "requests", "waiting") == 1; }, 5s));
  auto refused = server.call("POST", "/v1/completions", long_stream(4));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_FALSE(refused.header("retry-after").empty());
  EXPECT_NE(refused.body.find("server_overloaded"), std::string::npos) << refused.body;
  running.reset();
  waiting.reset();
  EXPECT_TRUE(server.wait_stats(
      [](const boost::json::object& s) {
        return counter(s, "kv_cache", "blocks_used") == 0 && counter(s, "requests", "running") == 0 &&
               counter(s, "requests", "waiting") == 0;
      },
      2s));
}

}  // namespace
}  // namespace llmd::test
