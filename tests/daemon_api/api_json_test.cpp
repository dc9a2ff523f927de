// The API layer's own pieces, without a server: JSON text (always valid, even
// for ill-formed model bytes and infinite log-probabilities), the chunk and
// response shapes, and request parsing defaults.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "daemon/openai/api_request.hpp"
#include "daemon/openai/json_text.hpp"
#include "daemon/openai/response_json.hpp"

namespace llmd::openai {
namespace {

boost::json::value parse(const std::string& s) {
  std::error_code ec;
  boost::json::value v = boost::json::parse(s, ec);  // rejects invalid UTF-8
  EXPECT_FALSE(ec) << s;
  return v;
}

// The JSON of one "data: {...}\n\n" event.
boost::json::value event(const std::string& s) {
  EXPECT_EQ(s.rfind("data: ", 0), 0u) << s;
  EXPECT_EQ(s.substr(s.size() - 2), "\n\n") << s;
  return parse(s.substr(6, s.size() - 8));
}

TEST(JsonText, IllFormedUtf8BecomesReplacementCharacters) {
  std::string out;
  append_json_string(out, std::string("a\xff" "b\xc3", 4));
  EXPECT_EQ(out, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
  EXPECT_EQ(parse(out).as_string(), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
}

TEST(JsonText, ControlCharactersQuotesAndBackslashesAreEscaped) {
  std::string raw = "q\"b\\n\n\t\x01\x1f" "end \xe2\x82\xac";
  std::string out;
  append_json_string(out, raw);
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001fend \xe2\x82\xac\"");
  EXPECT_EQ(parse(out).as_string(), raw);
}

TEST(JsonText, LogprobsAreAlwaysFiniteNumbers) {
  for (float v : {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    std::string out;
    append_logprob(out, v);
    EXPECT_EQ(out, "-9999");
  }
  std::string out;
  append_logprob(out, -0.125f);
  EXPECT_EQ(out, "-0.125");
  out.clear();
  append_json_float(out, std::numeric_limits<float>::infinity());
  EXPECT_EQ(out, "0");
  out.clear();
  append_json_bytes(out, "\xff" "A");
  EXPECT_EQ(out, "[255,65]");
}

ResponseMeta meta(Endpoint e) { return ResponseMeta{e, "chatcmpl-1", 1700000000, "m", "fp_x"}; }

TEST(ChunkWriter, ChatChunksHaveOpenAIsShape) {
  ChunkWriter w(meta(Endpoint::chat), /*include_usage=*/true);
  std::string role, text, finish, usage;
  w.role(role, 0);
  w.text(text, 1, "hi \xff", nullptr);
  w.finish(finish, 1, "length");
  w.usage(usage, scheduler::Usage{5, 7, 2});

  auto r = event(role).as_object();
  EXPECT_EQ(r.at("object").as_string(), "chat.completion.chunk");
  EXPECT_EQ(r.at("system_fingerprint").as_string(), "fp_x");
  EXPECT_TRUE(r.at("usage").is_null());
  const auto& c0 = r.at("choices").as_array().at(0).as_object();
  EXPECT_EQ(c0.at("delta").at("role").as_string(), "assistant");
  EXPECT_EQ(c0.at("delta").at("content").as_string(), "");
  EXPECT_TRUE(c0.at("finish_reason").is_null());

  auto t = event(text).as_object();
  const auto& c1 = t.at("choices").as_array().at(0).as_object();
  EXPECT_EQ(c1.at("index").as_int64(), 1);
  EXPECT_EQ(c1.at("delta").at("content").as_string(), "hi \xef\xbf\xbd");
  EXPECT_TRUE(c1.at("logprobs").is_null());

  auto f = event(finish).as_object();
  const auto& c2 = f.at("choices").as_array().at(0).as_object();
  EXPECT_TRUE(c2.at("delta").as_object().empty());
  EXPECT_EQ(c2.at("finish_reason").as_string(), "length");

  auto u = event(usage).as_object();
  EXPECT_TRUE(u.at("choices").as_array().empty());
  EXPECT_EQ(u.at("usage").at("prompt_tokens").as_int64(), 5);
  EXPECT_EQ(u.at("usage").at("completion_tokens").as_int64(), 7);
  EXPECT_EQ(u.at("usage").at("total_tokens").as_int64(), 12);
  EXPECT_EQ(u.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 2);
}

TEST(ChunkWriter, CompletionChunksAndNoUsageField) {
  ChunkWriter w(meta(Endpoint::completions), /*include_usage=*/false);
  std::string text;
  w.text(text, 0, "abc", nullptr);
  auto t = event(text).as_object();
  EXPECT_EQ(t.at("object").as_string(), "text_completion");
  EXPECT_FALSE(t.contains("usage"));
  EXPECT_EQ(t.at("choices").as_array().at(0).at("text").as_string(), "abc");
  std::string err;
  ChunkWriter::error(err, "boom \xff", "server_error");
  EXPECT_EQ(event(err).at("error").at("message").as_string(), "boom \xef\xbf\xbd");
}

TEST(WholeResponse, ChatAndCompletionBodies) {
  ChoiceResult choices[2] = {{"one", "stop", ""}, {"two", "length", "{\"content\":[],\"refusal\":null}"}};
  auto chat = parse(whole_response(meta(Endpoint::chat), choices, {3, 4, 0})).as_object();
  EXPECT_EQ(chat.at("object").as_string(), "chat.completion");
  const auto& arr = chat.at("choices").as_array();
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0].at("message").at("content").as_string(), "one");
  EXPECT_EQ(arr[0].at("message").at("role").as_string(), "assistant");
  EXPECT_TRUE(arr[0].at("logprobs").is_null());
  EXPECT_EQ(arr[1].at("index").as_int64(), 1);
  EXPECT_EQ(arr[1].at("finish_reason").as_string(), "length");
  EXPECT_TRUE(arr[1].at("logprobs").at("content").as_array().empty());
  EXPECT_EQ(chat.at("usage").at("total_tokens").as_int64(), 7);

  auto cmpl = parse(whole_response(meta(Endpoint::completions), choices, {3, 4, 0})).as_object();
  EXPECT_EQ(cmpl.at("object").as_string(), "text_completion");
  EXPECT_EQ(cmpl.at("choices").as_array()[1].at("text").as_string(), "two");
}

TEST(RequestParsing, DefaultsAndNormalisations) {
  CompletionRequest r;
  auto e = parse_completion_request(
      Endpoint::chat,
      R"({"model":"m","messages":[{"role":"developer","content":"sys"},{"role":"user","content":[)"
      R"({"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":null}],)"
      R"("top_p":0,"seed":-1,"stop":"","stream_options":{"include_usage":true},"tools":[],"tool_choice":"none",)"
      R"("response_format":{"type":"text"},"store":false,"metadata":null,"max_tokens":5,"max_completion_tokens":7})",
      &r);
  ASSERT_FALSE(e) << e->message;
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_GT(r.sampling.top_p, 0.0f);
  EXPECT_LT(r.sampling.top_p, 1e-6f);
  EXPECT_EQ(r.sampling.seed, std::optional<uint64_t>(UINT64_MAX));
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.include_usage);  // only with stream
  EXPECT_EQ(r.max_tokens, std::optional<int64_t>(7));
  EXPECT_EQ(r.sampling.temperature, 1.0f);

  CompletionRequest c;
  e = parse_completion_request(Endpoint::completions, R"({"model":"m","prompt":[[1,2],[3]],"logprobs":0,"n":null})", &c);
  ASSERT_FALSE(e) << e->message;
  ASSERT_EQ(c.prompts.size(), 2u);
  EXPECT_TRUE(c.prompts[0].is_ids);
  EXPECT_EQ(c.prompts[1].ids, std::vector<int64_t>{3});
  EXPECT_TRUE(c.logprobs);
  EXPECT_EQ(c.top_logprobs, 0);
  EXPECT_EQ(c.n, 1);
}

TEST(RequestParsing, UnimplementedFieldsAreRefusedByName) {
  const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"hi"}],)";
  const std::pair<std::string, std::string> refused[] = {
      {chat + R"("response_format":{"type":"json_object","strict":true}})", "response_format.strict"},
      {chat + R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{},"extra":1}}})",
       "response_format.json_schema.extra"},
      {chat + R"("store":true})", "store"},
      {chat + R"("metadata":{"a":"b"}})", "metadata"},
      {chat + R"("audio":{"voice":"x"}})", "audio"},
      {chat + R"("modalities":["text","audio"]})", "modalities"},
      {chat + R"("reasoning_effort":"low"})", "reasoning_effort"},
      {chat + R"("functions":[{"name":"f"}]})", "functions"},
      {chat + R"("no_such_field":1})", "no_such_field"},
      {chat + R"("stream":true,"stream_options":{"include_usage":true,"include_obfuscation":true}})",
       "stream_options.include_obfuscation"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi","name":"bob"}]})", "messages[0].name"},
      {R"({"model":"m","messages":[{"role":"user","content":"a","tool_call_id":"x"}]})", "messages[0].tool_call_id"},
      {chat + R"("tools":[{"type":"function","function":{"name":"f","examples":[1]}}]})", "tools[0].function.examples"},
  };
  for (const auto& [body, param] : refused) {
    CompletionRequest r;
    auto e = parse_completion_request(Endpoint::chat, body, &r);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, param) << body;
    EXPECT_EQ(e->code, "unsupported_parameter");
    EXPECT_NE(e->message.find("'" + param + "'"), std::string::npos) << e->message;
  }
  for (const char* body : {R"({"model":"m","prompt":"a","suffix":"b"})", R"({"model":"m","prompt":"a","best_of":3})",
                           R"({"model":"m","prompt":"a","max_completion_tokens":3})"}) {
    CompletionRequest r;
    auto e = parse_completion_request(Endpoint::completions, body, &r);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->code, "unsupported_parameter") << body;
  }
  // null means unset; values that ask for the default are accepted.
  CompletionRequest ok;
  auto e = parse_completion_request(
      Endpoint::chat,
      chat + R"("tools":[],"tool_choice":"auto","parallel_tool_calls":true,"response_format":null,)"
             R"("service_tier":"auto","modalities":["text"],"audio":null})",
      &ok);
  EXPECT_FALSE(e) << e->message;
  CompletionRequest cmpl;
  e = parse_completion_request(Endpoint::completions, R"({"model":"m","prompt":"a","best_of":1,"suffix":""})", &cmpl);
  EXPECT_FALSE(e) << e->message;
}

TEST(RequestParsing, ToolsToolChoiceAndToolMessages) {
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","description":"d",)"
      R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  const std::string convo =
      R"({"model":"m","messages":[{"role":"user","content":"Weather?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",)"
      R"("function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","name":"get_weather","content":"sunny"}],)";
  CompletionRequest r;
  auto e = parse_completion_request(Endpoint::chat, convo + tools + R"(,"parallel_tool_calls":false})", &r);
  ASSERT_FALSE(e) << e->message;
  ASSERT_TRUE(r.tools.is_list());
  EXPECT_EQ(r.tools.list().size(), 1u);
  EXPECT_FALSE(r.parallel_tool_calls);
  EXPECT_TRUE(r.tool_messages);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[2].role, "tool");
  // The template sees the call's arguments as an object, the result's id and name.
  const auto& shown = r.template_messages.list();
  ASSERT_EQ(shown.size(), 3u);
  EXPECT_TRUE(shown[1].dict().find("content")->is_none());
  const auto& call = shown[1].dict().find("tool_calls")->list()[0];
  const auto& args = call.dict().find("function")->dict().find("arguments");
  ASSERT_TRUE(args->is_dict());
  EXPECT_EQ(args->dict().find("city")->text(), "Paris");
  EXPECT_EQ(shown[2].dict().find("tool_call_id")->text(), "c1");
  EXPECT_TRUE(engine::jinja::any_taint(shown[2])) << "the caller's text is marked as content";

  // tool_choice "none": the tools are not offered.
  CompletionRequest none;
  e = parse_completion_request(Endpoint::chat, convo + tools + R"(,"tool_choice":"none"})", &none);
  ASSERT_FALSE(e) << e->message;
  EXPECT_TRUE(none.tools.is_undefined());

  const std::pair<std::string, std::string> bad[] = {
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}})", "tools"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval"}]})", "tools[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a b"}}]})",
       "tools[0].function.name"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]})",
       "tools[0].function.parameters"},
      {R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id"},
      {R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c"}]}]})",
       "messages[0].tool_calls[0].function"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"})", "tool_choice"},
  };
  for (const auto& [body, param] : bad) {
    CompletionRequest b;
    auto err = parse_completion_request(Endpoint::chat, body, &b);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->param, param) << body << ": " << err->message;
  }
}

TEST(WholeResponse, ToolCallsInMessagesAndStreamDeltas) {
  ResponseMeta meta;
  meta.endpoint = Endpoint::chat;
  meta.id = "chatcmpl-x";
  meta.model = "m";
  ChoiceResult c;
  c.finish_reason = "tool_calls";
  c.tool_calls = {{"call_x_0_0", "get_weather", R"({"city": "Paris"})"}};
  auto v = boost::json::parse(whole_response(meta, std::span<const ChoiceResult>(&c, 1), {})).as_object();
  const auto& msg = v.at("choices").as_array()[0].at("message").as_object();
  EXPECT_TRUE(msg.at("content").is_null());
  const auto& call = msg.at("tool_calls").as_array()[0].as_object();
  EXPECT_EQ(call.at("id").as_string(), "call_x_0_0");
  EXPECT_EQ(call.at("type").as_string(), "function");
  EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(call.at("function").at("arguments").as_string(), R"({"city": "Paris"})");
  EXPECT_EQ(v.at("choices").as_array()[0].at("finish_reason").as_string(), "tool_calls");

  ChunkWriter w(meta, false);
  std::string out;
  w.tool_calls(out, 0, c.tool_calls);
  ASSERT_EQ(out.rfind("data: ", 0), 0u);
  auto chunk = boost::json::parse(out.substr(6)).as_object();
  const auto& delta = chunk.at("choices").as_array()[0].at("delta").as_object();
  const auto& d = delta.at("tool_calls").as_array()[0].as_object();
  EXPECT_EQ(d.at("index").as_int64(), 0);
  EXPECT_EQ(d.at("id").as_string(), "call_x_0_0");
  EXPECT_EQ(d.at("function").at("arguments").as_string(), R"({"city": "Paris"})");
}

}  // namespace
}  // namespace llmd::openai

namespace llmd::openai {
namespace {

TEST(RequestParsing, StructuredOutputFields) {
  const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"hi"}],)";
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},)"
                            R"({"type":"function","function":{"name":"g"}}])";
  CompletionRequest r;
  ASSERT_FALSE(parse_completion_request(Endpoint::chat, chat + R"("response_format":{"type":"json_object"}})", &r));
  EXPECT_TRUE(r.response_grammar);
  r = {};
  ASSERT_FALSE(parse_completion_request(
      Endpoint::chat,
      chat + R"("response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}})",
      &r));
  EXPECT_TRUE(r.response_grammar);
  r = {};
  ASSERT_FALSE(parse_completion_request(Endpoint::chat, chat + R"("response_format":{"type":"text"}})", &r));
  EXPECT_FALSE(r.response_grammar);
  r = {};
  ASSERT_FALSE(parse_completion_request(Endpoint::chat, chat + tools + R"(,"tool_choice":"required"})", &r));
  EXPECT_EQ(r.tool_choice, ToolChoice::required);
  ASSERT_EQ(r.tool_schemas.size(), 2u);
  EXPECT_EQ(r.tool_schemas[0].parameters, R"({"type":"object"})");
  EXPECT_EQ(r.tool_schemas[1].parameters, "");
  r = {};
  ASSERT_FALSE(parse_completion_request(
      Endpoint::chat, chat + tools + R"(,"tool_choice":{"type":"function","function":{"name":"g"}}})", &r));
  EXPECT_EQ(r.tool_choice, ToolChoice::named);
  EXPECT_EQ(r.tool_choice_name, "g");

  struct Bad {
    std::string body, param, code, in_message;
  };
  const Bad bad[] = {
      {chat + R"("response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"id":{"type":"string","pattern":"x"}}}}}})",
       "response_format.json_schema.schema", "unsupported_parameter", "'response_format.json_schema.schema.properties.id.pattern'"},
      {chat + R"("response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"integer","multipleOf":2}}}})",
       "response_format.json_schema.schema", "unsupported_parameter", "multipleOf"},
      {chat + R"("response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"strng"}}}})",
       "response_format.json_schema.schema", "invalid_value", "strng"},
      {chat + R"("response_format":{"type":"json_schema","json_schema":{"schema":{}}}})", "response_format.json_schema.name",
       "invalid_value", "name"},
      {chat + R"("response_format":{"type":"json_schema","json_schema":{"name":"p"}}})", "response_format.json_schema.schema",
       "missing_required_parameter", "schema"},
      {chat + R"("response_format":{"type":"yaml"}})", "response_format.type", "invalid_value", "json_schema"},
      {chat + R"("tool_choice":"required"})", "tool_choice", "invalid_value", "tools"},
      {chat + tools + R"(,"tool_choice":{"type":"function","function":{"name":"h"}}})", "tool_choice.function.name",
       "invalid_value", "'h'"},
      {chat + tools + R"(,"tool_choice":"always"})", "tool_choice", "invalid_value", "required"},
      {chat + tools + R"(,"tool_choice":"required","response_format":{"type":"json_object"}})", "response_format",
       "invalid_value", "tool_choice"},
  };
  for (const Bad& b : bad) {
    CompletionRequest req;
    auto e = parse_completion_request(Endpoint::chat, b.body, &req);
    ASSERT_TRUE(e) << b.body;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, b.param) << b.body;
    EXPECT_EQ(e->code, b.code) << b.body;
    EXPECT_NE(e->message.find(b.in_message), std::string::npos) << e->message;
  }
}

}  // namespace
}  // namespace llmd::openai
