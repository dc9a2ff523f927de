// [api] stream_interval_s: tokens produced within the interval travel in one
// write (one HTTP chunk, one TLS record); 0 writes every token on its own.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

struct Counts {
  int events = 0;  // SSE events before [DONE]
  int writes = 0;  // HTTP chunks that carried them
  bool done = false;
};

Counts stream(ApiServer& server) {
  Counts n;
  auto c = server.send("/v1/completions",
                       R"({"model":"synth","prompt":"Hello","max_tokens":60,"ignore_eos":true,"stream":true})");
  auto head = read_head(*c);
  EXPECT_TRUE(head && head->status == 200);
  while (auto chunk = read_chunk(*c)) {
    if (chunk->empty()) break;
    ++n.writes;
    for (size_t at = chunk->find("data: "); at != std::string::npos; at = chunk->find("data: ", at + 1)) {
      if (chunk->compare(at, 12, "data: [DONE]") == 0) {
        n.done = true;
      } else {
        ++n.events;
      }
    }
  }
  return n;
}

TEST(StreamInterval, TokensWithinTheIntervalShareOneWrite) {
  ApiServerOptions opts;
  opts.api = "stream_interval_s = 0.5\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  Counts n = stream(server);
  EXPECT_TRUE(n.done);
  EXPECT_GE(n.events, 30);  // 60 tokens (some only complete a character) and the finish chunk
  // The first token at once, the rest (generated in well under 0.5 s) with the end.
  EXPECT_LE(n.writes, 4) << n.events << " events";
}

TEST(StreamInterval, ZeroWritesEveryToken) {
  ApiServerOptions opts;
  opts.api = "stream_interval_s = 0\n";
  // A model slow enough (milliseconds per token) that the I/O threads keep up
  // even on a loaded machine: with the tiny test model tokens come faster
  // than a starved I/O thread writes, and pending tokens share a write.
  opts.custom_shape = slow_shape("test-slower");
  opts.weight_type = "q8_0";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  Counts n = stream(server);
  EXPECT_TRUE(n.done);
  EXPECT_GE(n.events, 30);
  // Writes still merge when the client reads more slowly than tokens come,
  // but most tokens travel alone.
  std::printf("%d events in %d writes\n", n.events, n.writes);
  EXPECT_GE(n.writes, 10) << n.events << " events";
}

}  // namespace
}  // namespace llmd::test
