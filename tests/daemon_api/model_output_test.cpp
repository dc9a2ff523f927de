// What the model produces always reaches the client as valid JSON, and a model
// that cannot load stops the start before the server reports ready.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <string>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

const std::string kReplacement = "\xef\xbf\xbd";

// The synthetic vocabulary's byte tokens follow <unk>, <s>, </s>: 0xFF is id 258,
// a byte that never occurs in UTF-8. A large logit bias makes the model emit it.
const char* kForceFF = R"("logit_bias":{"258":100},"temperature":0,"max_tokens":4,"logprobs":true,"top_logprobs":2)";

TEST(ModelOutput, IllFormedUtf8FromTheModelStaysValidJson) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  auto res = server.call("POST", "/v1/chat/completions",
                         std::string(R"({"model":"synth","messages":[{"role":"user","content":"Hi"}],)") + kForceFF + "}");
  ASSERT_EQ(res.status, 200) << res.body;
  std::error_code ec;
  boost::json::value v = boost::json::parse(res.body, ec);  // fails on invalid UTF-8
  ASSERT_FALSE(ec) << ec.message();
  const auto& choice = v.at("choices").as_array().at(0);
  EXPECT_EQ(choice.at("message").at("content").as_string(), kReplacement + kReplacement + kReplacement + kReplacement);
  const auto& first = choice.at("logprobs").at("content").as_array().at(0);
  EXPECT_EQ(first.at("token").as_string(), kReplacement);
  EXPECT_EQ(first.at("bytes"), boost::json::parse("[255]"));
  EXPECT_TRUE(first.at("logprob").is_number());

  // Streamed: every event parses.
  auto c = server.send("/v1/completions", std::string(R"({"model":"synth","prompt":"Hi","stream":true,)") +
                                              R"("logprobs":2,"logit_bias":{"258":100},"temperature":0,"max_tokens":4})");
  ASSERT_TRUE(c);
  auto reply = read_reply(*c);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200);
  std::string body = reply->body;
  int events = 0;
  std::string text;
  for (size_t at = body.find("\n\n"); at != std::string::npos; at = body.find("\n\n")) {
    std::string ev = body.substr(0, at);
    body.erase(0, at + 2);
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    if (ev == "data: [DONE]") break;
    boost::json::value chunk = boost::json::parse(ev.substr(6), ec);
    ASSERT_FALSE(ec) << ev;
    text += chunk.at("choices").as_array().at(0).at("text").as_string();
    ++events;
  }
  EXPECT_GE(events, 2);
  EXPECT_EQ(text, kReplacement + kReplacement + kReplacement + kReplacement);
}

}  // namespace
}  // namespace llmd::test
