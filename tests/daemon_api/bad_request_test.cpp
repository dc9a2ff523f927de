// Bad requests of every kind get a 400 (404 for an unknown model) with an
// OpenAI error body naming the offending field, and the server keeps serving.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <string>
#include <vector>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

struct Case {
  const char* name;
  const char* path;
  std::string body;
  int status;
  std::string param;  // "" = null
  std::string code;   // "" = not checked
};

std::string nested(int depth) {
  return R"({"model":"synth","prompt":"x","metadata":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

std::string nested_objects(int depth) {
  std::string s = R"({"model":"synth","messages":[{"role":"user","content":"x"}],"extra":)";
  for (int i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s + "}";
}

std::string chat(const std::string& fields) {
  return R"({"model":"synth","messages":[{"role":"user","content":"Hello"}])" + (fields.empty() ? "" : "," + fields) +
         "}";
}

std::string completion(const std::string& fields) {
  return R"({"model":"synth","prompt":"Hello")" + (fields.empty() ? "" : "," + fields) + "}";
}

std::string long_ids(int n) {
  std::string s = R"({"model":"synth","prompt":[)";
  for (int i = 0; i < n; ++i) s += (i ? ",5" : "1");
  return s + "]}";
}

const char* kChat = "/v1/chat/completions";
const char* kCompletions = "/v1/completions";

std::vector<Case> cases() {
  return {
      {"invalid UTF-8 in a string", kChat,
       std::string("{\"model\":\"synth\",\"messages\":[{\"role\":\"user\",\"content\":\"He\xff\xfe\x80lo\"}]}"), 400, "",
       "invalid_json"},
      {"invalid UTF-8 in a key", kCompletions, completion("\"\xc3\x28\":1"), 400, "", "invalid_json"},
      {"overlong UTF-8", kCompletions, std::string("{\"model\":\"synth\",\"prompt\":\"\xc0\xaf\"}"), 400, "",
       "invalid_json"},
      {"a lone surrogate escape", kCompletions, std::string(R"({"model":"synth","prompt":"\ud800"})"), 400, "",
       "invalid_json"},
      {"tools for a model without a Jinja template", kChat,
       chat(R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}])"), 400, "tools",
       "unsupported_parameter"},
      {"a response_format schema feature llmd does not implement", kChat,
       chat(R"("response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"string","pattern":"^a"}}})"),
       400, "response_format.json_schema.schema", "unsupported_parameter"},
      {"response_format on /v1/completions", kCompletions, completion(R"("response_format":{"type":"json_object"})"), 400,
       "response_format", "unsupported_parameter"},
      {"an unknown field", kCompletions, completion(R"("frobnicate":true)"), 400, "frobnicate", "unsupported_parameter"},
      {"1000-deep arrays", kCompletions, nested(1000), 400, "", "invalid_json"},
      {"1000-deep objects", kChat, nested_objects(1000), 400, "", "invalid_json"},
      {"not JSON", kChat, "hello", 400, "", "invalid_json"},
      {"empty body", kChat, "", 400, "", "invalid_json"},
      {"truncated", kChat, R"({"model":"synth","messages":[)", 400, "", "invalid_json"},
      {"an array", kChat, "[1,2]", 400, "", "invalid_json"},
      {"missing model", kChat, R"({"messages":[{"role":"user","content":"x"}]})", 400, "model", ""},
      {"model not a string", kChat, R"({"model":5,"messages":[{"role":"user","content":"x"}]})", 400, "model", "invalid_type"},
      {"missing messages", kChat, R"({"model":"synth"})", 400, "messages", ""},
      {"messages a string", kChat, R"({"model":"synth","messages":"hi"})", 400, "messages", "invalid_type"},
      {"empty messages", kChat, R"({"model":"synth","messages":[]})", 400, "messages", ""},
      {"message not an object", kChat, R"({"model":"synth","messages":["hi"]})", 400, "messages[0]", "invalid_type"},
      {"unknown role", kChat, R"({"model":"synth","messages":[{"role":"wizard","content":"x"}]})", 400, "messages[0].role", ""},
      {"content a number", kChat, R"({"model":"synth","messages":[{"role":"user","content":5}]})", 400, "messages[0].content", "invalid_type"},
      {"image content part", kChat,
       R"({"model":"synth","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", 400,
       "messages[0].content[0].type", ""},
      {"missing user content", kChat, R"({"model":"synth","messages":[{"role":"user"}]})", 400, "messages[0].content", ""},
      {"temperature a string", kChat, chat(R"("temperature":"hot")"), 400, "temperature", "invalid_type"},
      {"temperature 3", kChat, chat(R"("temperature":3)"), 400, "temperature", ""},
      {"temperature -1", kCompletions, completion(R"("temperature":-1)"), 400, "temperature", ""},
      {"temperature 1e999 (infinite)", kCompletions, completion(R"("temperature":1e999)"), 400, "temperature", ""},
      {"top_p 2", kChat, chat(R"("top_p":2)"), 400, "top_p", ""},
      {"n a string", kChat, chat(R"("n":"2")"), 400, "n", "invalid_type"},
      {"n = 10^6", kChat, chat(R"("n":1000000)"), 400, "n", ""},
      {"n = 0", kCompletions, completion(R"("n":0)"), 400, "n", ""},
      {"n above the model's maximum", kChat, chat(R"("n":5)"), 400, "n", ""},
      {"max_tokens = 2^31", kChat, chat(R"("max_tokens":2147483648)"), 400, "max_tokens", ""},
      {"max_tokens = 2^64", kCompletions, completion(R"("max_tokens":18446744073709551616)"), 400, "max_tokens", ""},
      {"max_tokens 1.5", kCompletions, completion(R"("max_tokens":1.5)"), 400, "max_tokens", "invalid_type"},
      {"max_tokens 0", kCompletions, completion(R"("max_tokens":0)"), 400, "max_tokens", ""},
      {"max_completion_tokens -1", kChat, chat(R"("max_completion_tokens":-1)"), 400, "max_completion_tokens", ""},
      {"top_logprobs = 10^6", kChat, chat(R"("logprobs":true,"top_logprobs":1000000)"), 400, "top_logprobs", ""},
      {"top_logprobs without logprobs", kChat, chat(R"("top_logprobs":2)"), 400, "top_logprobs", ""},
      {"logprobs a string", kChat, chat(R"("logprobs":"yes")"), 400, "logprobs", "invalid_type"},
      {"completions logprobs = 10^6", kCompletions, completion(R"("logprobs":1000000)"), 400, "logprobs", ""},
      {"stream a string", kChat, chat(R"("stream":"yes")"), 400, "stream", "invalid_type"},
      {"stream_options a list", kChat, chat(R"("stream":true,"stream_options":[])"), 400, "stream_options", "invalid_type"},
      {"include_usage a number", kChat, chat(R"("stream":true,"stream_options":{"include_usage":1})"), 400,
       "stream_options.include_usage", "invalid_type"},
      {"stop a number", kChat, chat(R"("stop":5)"), 400, "stop", "invalid_type"},
      {"five stops", kChat, chat(R"("stop":["a","b","c","d","e"])"), 400, "stop", ""},
      {"stop list with a number", kCompletions, completion(R"("stop":["a",1])"), 400, "stop[1]", "invalid_type"},
      {"seed a string", kChat, chat(R"("seed":"x")"), 400, "seed", "invalid_type"},
      {"presence_penalty 3", kChat, chat(R"("presence_penalty":3)"), 400, "presence_penalty", ""},
      {"frequency_penalty -3", kCompletions, completion(R"("frequency_penalty":-3)"), 400, "frequency_penalty", ""},
      {"logit_bias a list", kChat, chat(R"("logit_bias":[1])"), 400, "logit_bias", "invalid_type"},
      {"logit_bias key not an id", kChat, chat(R"("logit_bias":{"abc":1})"), 400, "logit_bias", ""},
      {"logit_bias value 1000", kChat, chat(R"("logit_bias":{"5":1000})"), 400, "logit_bias", ""},
      {"logit_bias id outside the vocabulary", kChat, chat(R"("logit_bias":{"512":1})"), 400, "logit_bias", ""},
      {"user a number", kChat, chat(R"("user":5)"), 400, "user", "invalid_type"},
      {"missing prompt", kCompletions, R"({"model":"synth"})", 400, "prompt", ""},
      {"empty prompt", kCompletions, R"({"model":"synth","prompt":""})", 400, "prompt", ""},
      {"empty prompt list", kCompletions, R"({"model":"synth","prompt":[]})", 400, "prompt", ""},
      {"empty string in the prompt list", kCompletions, R"({"model":"synth","prompt":["a",""]})", 400, "prompt[1]", ""},
      {"empty token list", kCompletions, R"({"model":"synth","prompt":[[]]})", 400, "prompt[0]", ""},
      {"prompt an object", kCompletions, R"({"model":"synth","prompt":{}})", 400, "prompt", "invalid_type"},
      {"mixed prompt list", kCompletions, R"({"model":"synth","prompt":["a",[1]]})", 400, "prompt[1]", "invalid_type"},
      {"negative token id", kCompletions, R"({"model":"synth","prompt":[1,-5]})", 400, "prompt[1]", ""},
      {"token id outside the vocabulary", kCompletions, R"({"model":"synth","prompt":[1,512]})", 400, "prompt", ""},
      {"echo a string", kCompletions, completion(R"("echo":"yes")"), 400, "echo", "invalid_type"},
      {"prompt longer than the context", kCompletions, long_ids(600), 400, "prompt", "context_length_exceeded"},
      {"prompt plus max_tokens longer than the context", kChat, chat(R"("max_tokens":600)"), 400, "max_tokens",
       "context_length_exceeded"},
      {"unknown model", kChat, R"({"model":"gpt-9","messages":[{"role":"user","content":"x"}]})", 404, "model",
       "model_not_found"},
      {"unknown model (completions)", kCompletions, R"({"model":"nope/nope","prompt":"x"})", 404, "model",
       "model_not_found"},
  };
}

class BadRequestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ApiServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ApiServer* server_;
};

ApiServer* BadRequestTest::server_ = nullptr;

TEST_F(BadRequestTest, EachBadRequestIsRefusedWithItsParamAndTheServerKeepsServing) {
  ASSERT_TRUE(server_->ok());
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    auto res = server_->call("POST", c.path, c.body);
    EXPECT_EQ(res.status, c.status) << res.body;
    EXPECT_EQ(res.header("content-type"), "application/json");
    std::error_code ec;
    boost::json::value v = boost::json::parse(res.body, ec);
    ASSERT_FALSE(ec) << res.body;
    const auto* error = v.as_object().if_contains("error");
    ASSERT_TRUE(error && error->is_object()) << res.body;
    const auto& e = error->as_object();
    EXPECT_TRUE(e.at("message").is_string() && !e.at("message").as_string().empty());
    EXPECT_EQ(e.at("type").as_string(), c.status == 404 ? "not_found_error" : "invalid_request_error") << res.body;
    if (c.param.empty()) {
      EXPECT_TRUE(e.at("param").is_null()) << res.body;
    } else {
      EXPECT_EQ(e.at("param"), boost::json::value(c.param)) << res.body;
    }
    if (!c.code.empty()) {
      EXPECT_EQ(e.at("code"), boost::json::value(c.code)) << res.body;
    }
  }
  // Still serving, and nothing was admitted to the engine or left running.
  auto ok = server_->call("POST", kChat, chat(R"("max_tokens":4,"temperature":0)"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto stats = server_->model_stats();
  EXPECT_EQ(stats.at("requests").at("submitted").as_int64(), 1);
  EXPECT_EQ(stats.at("kv_cache").at("blocks_used").as_int64(), 0);
}

TEST_F(BadRequestTest, ModelIdsWithSlashesAndAliases) {
  ASSERT_TRUE(server_->ok());
  auto res = server_->call("GET", "/v1/models/test/synth");
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_NE(res.body.find(R"("id":"test/synth")"), std::string::npos) << res.body;
  auto missing = server_->call("GET", "/v1/models/test/other");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("model_not_found"), std::string::npos) << missing.body;
}

// The model's own Jinja template (here a file named by the config) builds the
// chat prompt through the interpreter; a conversation it refuses is a 400
// that carries the template's message and names it.
TEST(JinjaTemplate, TheConfiguredTemplateRendersTheChatPrompt) {
  ApiServerOptions opts;
  opts.files = {{"tmpl.jinja",
                 "{% for m in messages %}{% if m.content == 'forbidden' %}{{ raise_exception('No forbidden words.') }}"
                 "{% endif %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"}};
  opts.models_extra = "chat_template = \"tmpl.jinja\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok()) << server.logs();
  auto ok = server.call("POST", kChat, chat(R"("max_tokens":2,"temperature":0)"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto refused = server.call(
      "POST", kChat, R"({"model":"synth","messages":[{"role":"user","content":"forbidden"}],"max_tokens":2})");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("No forbidden words."), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("tmpl.jinja"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(R"("code":"chat_template_error")"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(R"("param":"messages")"), std::string::npos) << refused.body;
  EXPECT_NE(server.logs().find("rendered by the Jinja interpreter"), std::string::npos);
}

// Tools go into the model's Jinja template (Hermes style here); the answer
// of a random model is text, so it comes back as content, whole or streamed.
TEST(JinjaTemplate, ToolsAreRenderedIntoThePromptAndAnswersAreReadForCalls) {
  ApiServerOptions opts;
  opts.files = {{"hermes.jinja",
                 "{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools> Answer with "
                 "<tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>\n{% endif %}"
                 "{% for m in messages %}{{ m.role }}: {% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>"
                 "{{ c.function | tojson }}</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}"}};
  opts.models_extra = "chat_template = \"hermes.jinja\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok()) << server.logs();
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city",)"
      R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  auto prompt_tokens = [&](const std::string& extra) {
    auto res = server.call("POST", kChat, chat(R"("max_tokens":2,"temperature":0)" + extra));
    EXPECT_EQ(res.status, 200) << res.body;
    auto v = boost::json::parse(res.body).as_object();
    const auto& choice = v.at("choices").as_array()[0].as_object();
    EXPECT_TRUE(choice.at("message").at("content").is_string()) << res.body;
    EXPECT_NE(choice.at("finish_reason").as_string(), "tool_calls") << res.body;
    return v.at("usage").at("prompt_tokens").as_int64();
  };
  const int64_t plain = prompt_tokens("");
  EXPECT_GT(prompt_tokens("," + tools), plain + 10) << "the tools are in the prompt";
  EXPECT_EQ(prompt_tokens("," + tools + R"(,"tool_choice":"none")"), plain) << "tool_choice none offers none";
  // A conversation with a tool call and its result renders through the template.
  auto convo = server.call(
      "POST", kChat,
      R"({"model":"synth","max_tokens":2,"messages":[{"role":"user","content":"Weather in Paris?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":)"
      R"({"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"sunny"}],)" + tools + "}");
  EXPECT_EQ(convo.status, 200) << convo.body;
  // Streamed: the answer arrives whole at the end, then the finish and [DONE].
  auto streamed = server.call("POST", kChat, chat(R"("max_tokens":3,"temperature":0,"stream":true,)" + tools));
  EXPECT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_TRUE(streamed.body.find(R"("finish_reason":"length")") != std::string::npos ||
              streamed.body.find(R"("finish_reason":"stop")") != std::string::npos)
      << streamed.body;
  EXPECT_EQ(streamed.body.find("tool_calls"), std::string::npos) << "a random model calls no tool";
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
  // Not with logprobs (the stream is held back to read the calls).
  EXPECT_EQ(server.call("POST", kChat, chat(R"("logprobs":true,)" + tools)).status, 400);
}

// A model whose template has no tool-call format llmd reads refuses tools.
TEST(JinjaTemplate, ToolsNeedATemplateWithAKnownCallFormat) {
  ApiServerOptions opts;
  opts.files = {{"plain.jinja", "{% for m in messages %}{{ m.content }}\n{% endfor %}"}};
  opts.models_extra = "chat_template = \"plain.jinja\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok()) << server.logs();
  auto res = server.call("POST", kChat,
                         chat(R"("tools":[{"type":"function","function":{"name":"f"}}])"));
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.body.find(R"("param":"tools")"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("unsupported_parameter"), std::string::npos) << res.body;
}

TEST_F(BadRequestTest, StatsNeedTheAdminRole) {
  ASSERT_TRUE(server_->ok());
  EXPECT_EQ(server_->call("GET", "/admin/v1/stats").status, 403);
}

}  // namespace
}  // namespace llmd::test

namespace llmd::test {
namespace {

TEST(AllowedModels, ATeamSeesAndUsesOnlyItsModels) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string& admin = server.admin_key();
  ASSERT_EQ(server.call("POST", "/admin/v1/teams", R"({"name":"narrow","allowed_models":["other"]})", &admin).status, 201);
  auto key = server.call("POST", "/admin/v1/keys", R"({"team":"narrow","name":"k","role":"user"})", &admin);
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string k(boost::json::parse(key.body).at("key").as_string());
  auto list = server.call("GET", "/v1/models", "", &k);
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, R"({"object":"list","data":[]})");
  EXPECT_EQ(server.call("GET", "/v1/models/synth", "", &k).status, 403);
  auto res = server.call("POST", "/v1/chat/completions", chat(R"("max_tokens":2)"), &k);
  EXPECT_EQ(res.status, 403) << res.body;
  EXPECT_NE(res.body.find("model_not_allowed"), std::string::npos) << res.body;
  // The default team may use every model.
  EXPECT_EQ(server.call("POST", "/v1/chat/completions", chat(R"("max_tokens":2)")).status, 200);
}

}  // namespace
}  // namespace llmd::test
