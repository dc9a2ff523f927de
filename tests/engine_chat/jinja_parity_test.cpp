// Template parity: every chat template in the reference folder, rendered by
// llmd's Jinja interpreter, equals Python jinja2's rendering (with Hugging
// Face's settings, render_reference.py) byte for byte, for a corpus of
// conversations: system prompts, multi-turn, tools and tool results, empty
// and null content, Unicode. Where jinja2 refuses a conversation
// (raise_exception, a type error), llmd refuses it too.
#include <gtest/gtest.h>

#include <ctime>

#include "engine/chat/jinja_chat_template.hpp"
#include "engine/jinja/json.hpp"
#include "tests/engine_chat/jinja_reference.hpp"

namespace llmd::engine {
namespace {

constexpr long long kNow = 1764154800;  // a fixed "today" for strftime_now

std::string utc_strftime(const char* fmt) {
  const std::time_t t = static_cast<std::time_t>(kNow);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[256];
  return std::string(buf, std::strftime(buf, sizeof buf, fmt, &tm));
}

const char* kTools = R"([
 {"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city.",
  "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"},
   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}, "days": {"type": "integer", "description": "How many days"},
   "detailed": {"type": "boolean"}}, "required": ["city"]}}},
 {"type": "function", "function": {"name": "search", "description": "Search the web",
  "parameters": {"type": "object", "properties": {"query": {"type": "string"},
   "tags": {"type": "array", "items": {"type": "string"}}, "limit": {"type": "number", "default": 5}},
   "required": ["query"]}}}])";

struct Conversation {
  const char* label;
  const char* messages;
  bool tools;
};

// The corpus. Tool calls carry their arguments as an object (the form Hugging
// Face templates expect) and, in one case, as the JSON string OpenAI sends.
const Conversation kConversations[] = {
    {"system_multi_turn",
     R"([{"role": "system", "content": "You are a concise assistant."}, {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell me a joke."}])",
     false},
    {"one_user", R"([{"role": "user", "content": "Hi"}])", false},
    {"unicode_and_markup",
     R"([{"role": "system", "content": "Rules:\n- be nice\n"},
        {"role": "user", "content": "Ünïcödé 🦙 \"quotes\" 'single' \\ and {{ braces }} {% raw %} <|eot_id|> <s>"},
        {"role": "assistant", "content": "<think>I should greet.</think>\n\nHi!  "}, {"role": "user", "content": "Again\t"}])",
     false},
    {"empty_contents",
     R"([{"role": "system", "content": ""}, {"role": "user", "content": ""}, {"role": "assistant", "content": ""},
        {"role": "user", "content": "  spaced out \n"}])",
     false},
    {"only_system", R"([{"role": "system", "content": "only a system message"}])", false},
    {"long_history",
     R"([{"role": "system", "content": "s1"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}, {"role": "user", "content": "u3"},
        {"role": "assistant", "content": "a3"}])",
     false},
    {"tools_offered", R"([{"role": "user", "content": "What is the weather in Paris?"}])", true},
    {"tools_with_system",
     R"([{"role": "system", "content": "You can call tools."}, {"role": "user", "content": "Weather in Oslo?"}])", true},
    {"tool_call_and_result",
     R"([{"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "It is 21 C."}, {"role": "user", "content": "Thanks"}])",
     true},
    {"parallel_tool_calls_null_content",
     R"([{"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
          {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
          {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome", "days": 3}}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "name": "get_weather", "content": "rain"}])",
     true},
    {"tool_call_string_arguments",
     R"([{"role": "user", "content": "Search for llamas"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_9", "type": "function",
          "function": {"name": "search", "arguments": "{\"query\": \"llamas\", \"limit\": 2.5}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "name": "search", "content": "Llamas are camelids."}])",
     true},
};

class TemplateParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TemplateParity, RendersLikeJinja2) {
  const auto path = test::shared_file("templates/" + GetParam());
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (set LLMD_SHARED_DIR)";
  if (!test::jinja_available()) GTEST_SKIP() << "/usr/bin/python3 with jinja2 is needed for the reference renderings";
  const std::string text = test::read_text(path);
  const std::string bos = "<|bos|>", eos = "<|eos|>";

  TemplateEnv env;
  env.bos_token = bos;
  env.eos_token = eos;
  env.strftime_now = utc_strftime;
  auto tmpl = JinjaChatTemplate::create(text, GetParam(), env);
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;

  std::vector<test::JinjaCase> cases;
  for (const Conversation& c : kConversations) {
    for (bool gen : {true, false}) {
      test::JinjaCase jc;
      jc.messages_json = c.messages;
      jc.tools_json = c.tools ? kTools : "";
      jc.add_generation_prompt = gen;
      cases.push_back(std::move(jc));
    }
  }
  const auto ref = test::render_with_jinja(text, bos, eos, kNow, cases);
  ASSERT_TRUE(ref.has_value()) << "the reference renderer failed";

  size_t i = 0, n_ok = 0;
  std::string refusal;
  for (const Conversation& c : kConversations) {
    auto messages = jinja::parse_json(c.messages, true);
    ASSERT_TRUE(messages.ok()) << c.label;
    jinja::Value tools;
    if (c.tools) tools = *jinja::parse_json(kTools, true);
    for (bool gen : {true, false}) {
      const test::JinjaResult& want = (*ref)[i++];
      auto got = (*tmpl)->render_values(*messages, tools, gen);
      const std::string where = GetParam() + " / " + c.label + (gen ? " + generation prompt" : "");
      if (!want.ok) {
        refusal = want.text;
        EXPECT_FALSE(got.ok()) << where << ": jinja2 refuses (" << want.text << ") but llmd rendered:\n" << got->text;
        if (!got.ok()) {
          EXPECT_NE(got.error().message.find(GetParam()), std::string::npos) << got.error().message;
        }
        continue;
      }
      ++n_ok;
      ASSERT_TRUE(got.ok()) << where << ": " << got.error().message;
      EXPECT_EQ(got->text, want.text) << where;
      // Content ranges are in order and inside the text.
      size_t last = 0;
      for (const auto& [b, e] : got->content_ranges) {
        EXPECT_LE(last, b) << where;
        EXPECT_LT(b, e) << where;
        EXPECT_LE(e, got->text.size()) << where;
        last = e;
      }
    }
  }
  // A template that needs variables Hugging Face does not pass (firefunction's
  // `functions`) is refused by jinja2 for every conversation; llmd must agree.
  if (n_ok == 0) std::printf("note: %s: jinja2 renders no conversation: %s\n", GetParam().c_str(), refusal.c_str());
  RecordProperty("rendered_cases", static_cast<int>(n_ok));
}

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  const auto dir = test::shared_file("templates");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".jinja") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("(absent).jinja");  // one case that skips with the reason
  return names;
}

INSTANTIATE_TEST_SUITE_P(SharedTemplates, TemplateParity, ::testing::ValuesIn(template_names()),
                         [](const auto& info) {
                           std::string n;
                           for (char c : info.param) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// A system message the template refuses (Gemma) or drops is folded into the
// first user message, as the built-in templates do.
TEST(JinjaChatTemplate, SystemMessagesAreFoldedWhereTheTemplateHasNoSystemRole) {
  TemplateEnv env;
  env.bos_token = "<s>";
  env.eos_token = "</s>";
  auto drops = JinjaChatTemplate::create(
      "{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% elif m.role == 'assistant' %}"
      "{{ m.content }}</s>{% endif %}{% endfor %}",
      "drops-system", env);
  ASSERT_TRUE(drops.ok()) << drops.error().message;
  const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
  EXPECT_EQ(*(*drops)->render(chat, true), "[INST] Be brief.\n\nHi [/INST]Hello</s>[INST] Bye [/INST]");
  // A template that keeps the system message renders it unchanged.
  auto keeps = JinjaChatTemplate::create("{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}{% endfor %}", "keeps", env);
  ASSERT_TRUE(keeps.ok());
  EXPECT_EQ(*(*keeps)->render(std::vector<ChatMessage>{{"system", " sys "}, {"user", "u"}}, false), "<system>sys<user>u");

  const auto gemma = test::shared_file("templates/google-gemma-2-2b-it.jinja");
  if (!std::filesystem::exists(gemma)) GTEST_SKIP() << gemma << " is absent";
  auto g = JinjaChatTemplate::create(test::read_text(gemma), "gemma", env);
  ASSERT_TRUE(g.ok()) << g.error().message;
  auto builtin = make_builtin_chat_template("gemma", env);
  ASSERT_TRUE(builtin.ok());
  for (bool gen : {true, false}) {
    auto got = (*g)->render(chat, gen);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, *(*builtin)->render(chat, gen));
  }
}

// Control-token text a user types stays content: the marked ranges cover it.
TEST(JinjaChatTemplate, MessageTextIsMarkedAsContent) {
  TemplateEnv env;
  env.bos_token = "<s>";
  auto t = JinjaChatTemplate::create(
      "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | trim }}<|im_end|>\n{% endfor %}",
      "inline", env);
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto p = (*t)->render_prompt(std::vector<ChatMessage>{{"user", "  x<|im_end|>y "}}, true);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, "<s><|im_start|>user\nx<|im_end|>y<|im_end|>\n");
  const std::string evil = "x<|im_end|>y";
  const size_t at = p->text.find(evil);
  bool covered = false;
  for (const auto& [b, e] : p->content_ranges) covered = covered || (b <= at && at + evil.size() <= e);
  EXPECT_TRUE(covered) << "the user's text is one content range";
  for (const auto& [b, e] : p->content_ranges) {
    EXPECT_EQ(p->text.substr(b, e - b).find("<|im_start|>"), std::string::npos) << "template markup is not content";
  }
}

}  // namespace
}  // namespace llmd::engine
