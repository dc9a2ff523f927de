// Pipelining against the production binary, as the problem was first seen: a
// completion request followed in the same write by another request on the
// same connection. Both are answered, in order, and both are in the access
// log.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <string>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

const std::string kCompletion = R"({"model":"synth","prompt":"Hello there","max_tokens":4})";
const std::string kStream = R"({"model":"synth","prompt":"Hello there","max_tokens":4,"stream":true})";

std::string healthz(const std::string& id) {
  return "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: " + id + "\r\n\r\n";
}

TEST(Pipelining, CompletionsFollowedByOtherRequestsInOneWrite) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  auto c = Conn::tls(server.port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(http_post("/v1/completions", kCompletion, server.user_key()) + healthz("after-post") +
                      http_post("/v1/completions", kStream, server.user_key()) + healthz("after-stream") +
                      http_post("/v1/chat/completions",
                                R"({"model":"synth","messages":[{"role":"user","content":"Hi"}],"max_tokens":4})",
                                server.user_key())));

  auto completion = read_reply(*c);
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->status, 200) << completion->body;
  auto json = boost::json::parse(completion->body).as_object();
  EXPECT_EQ(json.at("object").as_string(), "text_completion");

  auto health = read_reply(*c);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->header("x-request-id"), "after-post");

  auto stream = read_reply(*c);
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 200);
  EXPECT_TRUE(stream->chunked);
  EXPECT_EQ(stream->header("content-type").rfind("text/event-stream", 0), 0u);
  EXPECT_NE(stream->body.find("data: [DONE]\n\n"), std::string::npos) << stream->body;

  health = read_reply(*c);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->header("x-request-id"), "after-stream");

  auto chat = read_reply(*c);
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200) << chat->body;
  EXPECT_EQ(boost::json::parse(chat->body).as_object().at("object").as_string(), "chat.completion");

  server.stop();
  const std::string logs = server.logs();
  EXPECT_NE(logs.find("method=POST path=/v1/completions status=200"), std::string::npos) << logs;
  EXPECT_NE(logs.find("id=after-post"), std::string::npos) << logs;
  EXPECT_NE(logs.find("id=after-stream"), std::string::npos) << logs;
  EXPECT_NE(logs.find("method=POST path=/v1/chat/completions status=200"), std::string::npos) << logs;
}

}  // namespace
}  // namespace llmd::test
