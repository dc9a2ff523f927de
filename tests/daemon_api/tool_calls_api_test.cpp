// Tool calling over HTTPS with the production daemon and a random-weight
// synthetic model, in "auto" mode: an answer streams as it is generated even
// when tools are offered (and equals the whole response for the seed), and
// the control tokens that a format writes its calls with reach the call
// parser as text, also when the call is forced.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <string>

#include "engine/synth/synth_shapes.hpp"
#include "tests/daemon_api/api_server.hpp"
#include "tests/daemon_api/sse_events.hpp"

namespace llmd::test {
namespace {

const char* kChat = "/v1/chat/completions";

const std::string kTools =
    R"("tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{},"additionalProperties":false}}}])";

std::string chat_body(const std::string& fields) {
  return R"({"model":")" + std::string(kSynthModel) + R"(","messages":[{"role":"user","content":"What time is it?"}],)" +
         fields + "}";
}

struct Answer {
  std::string content;
  std::string finish;
  size_t content_events = 0;  // streams: chunks that carried content
  bool tool_calls = false;
};

Answer whole(ApiServer& server, const std::string& body) {
  auto res = server.call("POST", kChat, body);
  EXPECT_EQ(res.status, 200) << res.body;
  if (res.status != 200) return {};
  const auto v = boost::json::parse(res.body);
  const auto& choice = v.at("choices").as_array().at(0);
  const auto& msg = choice.at("message").as_object();
  Answer a;
  if (const auto* c = msg.if_contains("content"); c && c->is_string()) a.content = c->as_string();
  a.finish = choice.at("finish_reason").as_string();
  a.tool_calls = msg.contains("tool_calls");
  return a;
}

Answer streamed(ApiServer& server, const std::string& body) {
  auto res = server.call("POST", kChat, body);
  EXPECT_EQ(res.status, 200) << res.body;
  Answer a;
  for (const auto& v : sse_data_objects(res.body)) {
    const auto& choices = v.at("choices").as_array();
    if (choices.empty()) continue;
    const auto& delta = choices[0].at("delta").as_object();
    if (const auto* c = delta.if_contains("content"); c && c->is_string() && !c->as_string().empty()) {
      a.content += c->as_string();
      ++a.content_events;
    }
    a.tool_calls = a.tool_calls || delta.contains("tool_calls");
    if (const auto& f = choices[0].at("finish_reason"); f.is_string()) a.finish = f.as_string();
  }
  return a;
}

TEST(ToolCallsApi, AnAnswerStreamsAsItIsGeneratedWhenToolsAreOffered) {
  ApiServerOptions opts;
  opts.files = {{"hermes.jinja",
                 "{% if tools %}Answer, or call a tool with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>\n"
                 "{% endif %}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}"}};
  opts.models_extra = "chat_template = \"hermes.jinja\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok()) << server.logs();
  for (int seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE(seed);
    const std::string fields = kTools + R"(,"temperature":1,"max_tokens":24,"seed":)" + std::to_string(seed);
    const Answer w = whole(server, chat_body(fields));
    const Answer s = streamed(server, chat_body(fields + R"(,"stream":true)"));
    // A random-weight model writes no call: the text, in many pieces.
    EXPECT_FALSE(w.tool_calls);
    EXPECT_FALSE(s.tool_calls);
    EXPECT_EQ(s.content, w.content);
    EXPECT_EQ(s.finish, w.finish);
    EXPECT_GT(s.content_events, 3u) << "the answer came in " << s.content_events << " pieces: " << s.content;
  }
}

TEST(ToolCallsApi, ControlTokenMarkersReachTheCallParser) {
  ApiServerOptions opts;
  opts.control_tokens = {"<|START_ACTION|>", "<|END_ACTION|>"};
  opts.files = {{"r7b.jinja",
                 "{% if tools %}Call tools with <|START_ACTION|>[{\"tool_name\": ..., \"parameters\": ...}]"
                 "<|END_ACTION|>\n{% endif %}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}"}};
  opts.models_extra = "chat_template = \"r7b.jinja\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok()) << server.logs();
  const int n_vocab = engine::synth::find_synth_shape(opts.shape)->n_vocab;
  const std::string start_action = std::to_string(n_vocab - 2);
  // One token, the marker: with tools it is text the parser reads (an
  // unfinished call is no call, so it comes back as content); without tools
  // a control token shows nothing.
  const std::string one_marker = R"("max_tokens":1,"logit_bias":{")" + start_action + R"(":100})";
  const Answer with_tools = whole(server, chat_body(kTools + "," + one_marker));
  EXPECT_EQ(with_tools.content, "<|START_ACTION|>");
  EXPECT_FALSE(with_tools.tool_calls);
  EXPECT_EQ(streamed(server, chat_body(kTools + "," + one_marker + R"(,"stream":true)")).content, "<|START_ACTION|>");
  EXPECT_EQ(whole(server, chat_body(one_marker)).content, "");
  // A forced call writes the markers too (the constraint's vocabulary lists
  // the shown control tokens) and reads back as the call.
  for (const char* stream : {"false", "true"}) {
    const std::string body = chat_body(kTools + R"(,"tool_choice":"required","temperature":1,"seed":5,"stream":)" + stream);
    const Answer forced = std::string(stream) == "true" ? streamed(server, body) : whole(server, body);
    EXPECT_TRUE(forced.tool_calls) << stream;
    EXPECT_EQ(forced.finish, "tool_calls") << stream;
    EXPECT_EQ(forced.content, "") << stream;
  }
}

}  // namespace
}  // namespace llmd::test
