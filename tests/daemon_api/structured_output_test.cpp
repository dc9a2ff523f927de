// Structured output over HTTPS with the production daemon and a random-weight
// synthetic model: response_format answers validate against their schema
// (checked by an independent validator), streaming gives the same text as a
// whole response for a seed, and tool_choice "required" / a named function
// come back as tool_calls whose arguments validate.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>

#include "tests/daemon_api/api_server.hpp"
#include "tests/daemon_api/sse_events.hpp"
#include "tests/support/json_schema_validator.hpp"

namespace llmd::test {
namespace {

const char* kChat = "/v1/chat/completions";

const std::string kSchema =
    R"({"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":12},)"
    R"("n":{"type":"integer","minimum":-5,"maximum":500},"ok":{"type":"boolean"},)"
    R"("day":{"type":"string","format":"date"},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3}},)"
    R"("required":["name","n","ok","day","tags"],"additionalProperties":false})";

std::string chat_body(const std::string& model, const std::string& fields) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Fill in the form"}],)" + fields + "}";
}

// The content and finish reason of a whole response.
std::pair<std::string, std::string> whole(ApiServer& server, const std::string& body) {
  auto res = server.call("POST", kChat, body);
  EXPECT_EQ(res.status, 200) << res.body;
  if (res.status != 200) return {};
  const auto v = boost::json::parse(res.body);
  const auto& choice = v.at("choices").as_array().at(0);
  const auto& content = choice.at("message").at("content");
  return {content.is_string() ? std::string(content.as_string()) : "", std::string(choice.at("finish_reason").as_string())};
}

// The concatenated content deltas and the finish reason of a stream.
std::pair<std::string, std::string> streamed(ApiServer& server, const std::string& body) {
  auto res = server.call("POST", kChat, body);
  EXPECT_EQ(res.status, 200) << res.body;
  std::string text, finish;
  for (const auto& v : sse_data_objects(res.body)) {
    const auto& choices = v.at("choices").as_array();
    if (choices.empty()) continue;
    const auto& delta = choices[0].at("delta").as_object();
    if (const auto* c = delta.if_contains("content"); c && c->is_string()) text += c->as_string();
    if (const auto& f = choices[0].at("finish_reason"); f.is_string()) finish = f.as_string();
  }
  return {text, finish};
}

TEST(StructuredOutputApi, JsonSchemaAnswersValidateAndStreamTheSame) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string format =
      R"("response_format":{"type":"json_schema","json_schema":{"name":"form","strict":true,"schema":)" + kSchema + "}}";
  for (int seed = 0; seed < 12; ++seed) {
    const std::string body =
        chat_body(kSynthModel, format + R"(,"temperature":1,"max_tokens":400,"seed":)" + std::to_string(seed));
    const auto [text, finish] = whole(server, body);
    EXPECT_EQ(finish, "stop") << text;
    EXPECT_EQ(validate_json(kSchema, text), "") << "seed " << seed << ": " << text;
    if (seed < 4) {
      const auto [s_text, s_finish] = streamed(server, body.substr(0, body.size() - 1) + R"(,"stream":true})");
      EXPECT_EQ(s_text, text) << "seed " << seed;
      EXPECT_EQ(s_finish, "stop");
    }
  }
  // json_object: an object (or, cut by max_tokens, the start of one).
  const auto [obj, finish] =
      whole(server, chat_body(kSynthModel, R"("response_format":{"type":"json_object"},"max_tokens":300,"seed":5)"));
  if (finish == "stop") {
    EXPECT_TRUE(boost::json::parse(obj).is_object()) << obj;
  } else {
    EXPECT_EQ(finish, "length");
    EXPECT_EQ(obj.find_first_not_of(" \n\t\r"), obj.find('{')) << obj;
  }
}

TEST(StructuredOutputApi, ForcedToolCallsValidate) {
  ApiServerOptions opts;
  // The tools are not printed into the prompt: the synthetic model's context
  // (512 tokens) is kept for the answer.
  opts.files = {{"hermes.jinja",
                 "{% if tools %}Answer with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>\n{% endif %}"
                 "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}"}};
  opts.models_extra = "chat_template = \"hermes.jinja\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok()) << server.logs();
  const std::string weather =
      R"({"type":"object","properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false})";
  const std::string time = R"({"type":"object","properties":{"tz":{"enum":["UTC","CET"]}},"required":["tz"],"additionalProperties":false})";
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":)" + weather +
                            R"(}},{"type":"function","function":{"name":"get_time","parameters":)" + time + "}}]";
  auto calls_of = [&](const std::string& fields) {
    auto res = server.call("POST", kChat, chat_body(kSynthModel, tools + "," + fields));
    EXPECT_EQ(res.status, 200) << res.body;
    const auto v = boost::json::parse(res.body);
    const auto& choice = v.at("choices").as_array().at(0);
    EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls") << res.body;
    const auto* calls = choice.at("message").as_object().if_contains("tool_calls");
    return calls && calls->is_array() ? calls->as_array() : boost::json::array{};
  };
  for (int seed = 0; seed < 8; ++seed) {
    const auto calls = calls_of(R"("tool_choice":"required","parallel_tool_calls":false,"temperature":1,"seed":)" +
                                std::to_string(seed));
    ASSERT_EQ(calls.size(), 1u);
    const auto& fn = calls[0].at("function");
    const std::string name(fn.at("name").as_string());
    ASSERT_TRUE(name == "get_weather" || name == "get_time") << name;
    EXPECT_EQ(validate_json(name == "get_weather" ? weather : time, std::string(fn.at("arguments").as_string())), "")
        << fn.at("arguments");
  }
  for (int seed = 0; seed < 4; ++seed) {
    const auto calls = calls_of(R"("tool_choice":{"type":"function","function":{"name":"get_time"}},"seed":)" +
                                std::to_string(seed));
    ASSERT_GE(calls.size(), 1u);
    for (const auto& c : calls) {
      EXPECT_EQ(c.at("function").at("name").as_string(), "get_time");
      EXPECT_EQ(validate_json(time, std::string(c.at("function").at("arguments").as_string())), "");
    }
  }
  // Streamed: the same calls arrive as tool-call deltas.
  auto res = server.call("POST", kChat,
                         chat_body(kSynthModel, tools + R"(,"tool_choice":"required","stream":true,"seed":3)"));
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find(R"("finish_reason":"tool_calls")"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find(R"("tool_calls":[{)"), std::string::npos) << res.body;
  // A schema feature llmd does not implement is refused by name.
  auto refused = server.call(
      "POST", kChat,
      chat_body(kSynthModel, R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"string","pattern":"a+"}}}}}],"tool_choice":"required")"));
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("tools[0].function.parameters.properties.x.pattern"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("unsupported_parameter"), std::string::npos) << refused.body;
}

// Every other family llmd reads: a template that teaches the format (the
// markers llmd recognises it by), a forced call, arguments that validate.
TEST(StructuredOutputApi, ForcedToolCallsInEveryOtherFamilysFormat) {
  const std::pair<const char*, const char*> families[] = {
      {"firefunction", "{% if tools %}Call with functools[{\"name\": ..., \"arguments\": ...}]\n{% endif %}"},
      {"functionary v3.1", "{% if tools %}Call with <function=NAME>{...}</function>\n{% endif %}"},
      {"functionary v3.2", "{% if tools %}>>>all for text\n{% endif %}"},
      {"command r", "{% if tools %}Action:\n```json\n[{\"tool_name\": ..., \"parameters\": ...}]\n```\n{% endif %}"},
  };
  const std::string weather =
      R"({"type":"object","properties":{"city":{"type":"string","maxLength":10}},"required":["city"],"additionalProperties":false})";
  // Both with small schemas: "any object" lets a random-weight model write
  // keys until its context ends.
  const std::string time = R"({"type":"object","properties":{"tz":{"enum":["UTC","CET"]}},"required":["tz"],"additionalProperties":false})";
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":)" + weather +
                            R"(}},{"type":"function","function":{"name":"get_time","parameters":)" + time + "}}]";
  for (const auto& [family, teach] : families) {
    SCOPED_TRACE(family);
    ApiServerOptions opts;
    opts.files = {{"family.jinja", std::string(teach) +
                                       "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
                                       "{% if add_generation_prompt %}assistant:{% endif %}"}};
    opts.models_extra = "chat_template = \"family.jinja\"\n";
    ApiServer server(opts);
    ASSERT_TRUE(server.ok()) << server.logs();
    for (int seed = 0; seed < 3; ++seed) {
      auto res = server.call("POST", kChat,
                             chat_body(kSynthModel, tools + R"(,"tool_choice":"required","temperature":1,"seed":)" +
                                                        std::to_string(seed)));
      ASSERT_EQ(res.status, 200) << res.body;
      const auto v = boost::json::parse(res.body);
      const auto& choice = v.at("choices").as_array().at(0);
      EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls") << res.body;
      const auto* calls = choice.at("message").as_object().if_contains("tool_calls");
      ASSERT_TRUE(calls && calls->is_array() && !calls->as_array().empty()) << res.body;
      for (const auto& c : calls->as_array()) {
        const std::string name(c.at("function").at("name").as_string());
        const std::string args(c.at("function").at("arguments").as_string());
        if (name == "get_weather") {
          EXPECT_EQ(validate_json(weather, args), "") << args;
        } else {
          EXPECT_EQ(name, "get_time");
          EXPECT_EQ(validate_json(time, args), "") << args;
        }
      }
    }
  }
}

}  // namespace
}  // namespace llmd::test
