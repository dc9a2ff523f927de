// Tool calls read from model outputs, per family, as the models write them;
// text that is not a well-formed call stays text.
#include <gtest/gtest.h>

#include "engine/chat/tool_calls.hpp"
#include "tests/engine_chat/jinja_reference.hpp"

namespace llmd::engine {
namespace {

TEST(ToolCalls, HermesAndQwen) {
  // Qwen 2.5 7B Instruct, two parallel calls after a sentence.
  auto r = parse_tool_calls(ToolCallFormat::hermes,
                            "Let me check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                            "\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                            "{\"city\": \"Rome\", \"days\": 3}}\n</tool_call>");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.content, "Let me check both.");
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Paris\"}");
  EXPECT_EQ(r.calls[1].arguments, "{\"city\": \"Rome\", \"days\": 3}");
  // Generation stopped right after the JSON (the closing tag never came).
  auto open = parse_tool_calls(ToolCallFormat::hermes, "<tool_call>\n{\"name\": \"search\", \"arguments\": {}}\n");
  ASSERT_EQ(open.calls.size(), 1u);
  EXPECT_EQ(open.calls[0].arguments, "{}");
  EXPECT_EQ(open.content, "");
  // Broken JSON, a call without a name, text after the calls: all text.
  for (const char* text : {"<tool_call>{\"name\": \"f\", \"arguments\": {</tool_call>",
                           "<tool_call>{\"arguments\": {}}</tool_call>",
                           "<tool_call>{\"name\": \"f\"}</tool_call> and then more words",
                           "no calls here"}) {
    auto t = parse_tool_calls(ToolCallFormat::hermes, text);
    EXPECT_TRUE(t.calls.empty()) << text;
    EXPECT_EQ(t.content, text);
  }
}

TEST(ToolCalls, Mistral) {
  auto r = parse_tool_calls(ToolCallFormat::mistral,
                            "[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"query\": \"llamas\", \"limit\": 2}}, "
                            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\"}}]");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(r.calls[0].name, "search");
  EXPECT_EQ(r.calls[0].arguments, "{\"query\": \"llamas\", \"limit\": 2}");
  EXPECT_EQ(r.calls[1].name, "get_weather");
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::mistral, "[TOOL_CALLS] not json").calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::mistral, "Plain answer.").calls.empty());
}

TEST(ToolCalls, Llama3Json) {
  auto r = parse_tool_calls(ToolCallFormat::llama3,
                            "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\", \"unit\": \"celsius\"}}");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\", \"unit\": \"celsius\"}");
  auto tagged = parse_tool_calls(ToolCallFormat::llama3, "<|python_tag|>{\"name\": \"search\", \"parameters\": {}}");
  ASSERT_EQ(tagged.calls.size(), 1u);
  // A JSON object that is not a call, and prose, stay text.
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::llama3, "{\"answer\": 42}").calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::llama3, "The weather is fine.").calls.empty());
  EXPECT_EQ(parse_tool_calls(ToolCallFormat::none, "<tool_call>{\"name\": \"f\"}</tool_call>").calls.size(), 0u);
}

// Answers as the models of these families write them (the formats their
// templates teach and render for earlier assistant turns).
TEST(ToolCalls, FirefunctionFunctoolsList) {
  auto r = parse_tool_calls(ToolCallFormat::firefunction,
                            " functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}, "
                            "{\"name\": \"get_time\", \"arguments\": {}}]");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(r.calls[1].name, "get_time");
  EXPECT_EQ(r.content, "");
  auto text = parse_tool_calls(ToolCallFormat::firefunction, "Oslo is sunny.");
  EXPECT_TRUE(text.calls.empty());
  EXPECT_EQ(text.content, "Oslo is sunny.");
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::firefunction, "functools[{\"arguments\": {}}]").calls.empty());
}

TEST(ToolCalls, FunctionaryV31FunctionTags) {
  auto r = parse_tool_calls(ToolCallFormat::functionary31,
                            "Let me check.<function=get_weather>{\"city\": \"Oslo\"}</function>"
                            "<function=get_time>{}</function>");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.content, "Let me check.");
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(r.calls[1].name, "get_time");
  // Cut at the closing tag by a stop string: still a call.
  EXPECT_EQ(parse_tool_calls(ToolCallFormat::functionary31, "<function=get_time>{}").calls.size(), 1u);
  // Arguments that are not an object, or text between calls: text.
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::functionary31, "<function=f>[1]</function>").calls.empty());
  EXPECT_TRUE(
      parse_tool_calls(ToolCallFormat::functionary31, "<function=f>{}</function> and <function=g>{}</function>")
          .calls.empty());
}

TEST(ToolCalls, FunctionaryV32Recipients) {
  // The prompt ends with ">>>": the answer starts with its recipient.
  auto text = parse_tool_calls(ToolCallFormat::functionary32, "all\nHello there.");
  EXPECT_TRUE(text.calls.empty());
  EXPECT_EQ(text.content, "Hello there.");
  auto r = parse_tool_calls(ToolCallFormat::functionary32,
                            "all\nChecking both.>>>get_weather\n{\"city\": \"Oslo\"}>>>get_time\n{}");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.content, "Checking both.");
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(r.calls[1].name, "get_time");
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::functionary32, "get_weather\nnot json").calls.empty());
}

TEST(ToolCalls, CommandRActionList) {
  auto r = parse_tool_calls(ToolCallFormat::command_r,
                            "I will look up the weather.\nAction:\n```json\n[\n    {\n        \"tool_name\": "
                            "\"get_weather\",\n        \"parameters\": {\"city\": \"Oslo\"}\n    }\n]\n```");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.content, "I will look up the weather.");
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  // The model's own "directly_answer" tool is no call.
  auto direct = parse_tool_calls(ToolCallFormat::command_r,
                                 "Action: ```json\n[{\"tool_name\": \"directly_answer\", \"parameters\": {}}]\n```");
  EXPECT_TRUE(direct.calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolCallFormat::command_r, "No action needed.").calls.empty());
}

// The markers are control tokens; a request with tools shows them as text.
TEST(ToolCalls, CommandR7BActionBetweenControlTokens) {
  // The plan between <|START_THINKING|> and <|END_THINKING|> (not shown) is content.
  auto r = parse_tool_calls(ToolCallFormat::command_r7b,
                            "I will look up the weather in Oslo and the time.<|START_ACTION|>[\n    {\"tool_call_id\": "
                            "\"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}},\n    "
                            "{\"tool_call_id\": \"1\", \"tool_name\": \"get_time\", \"parameters\": {}}\n]<|END_ACTION|>");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.content, "I will look up the weather in Oslo and the time.");
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(r.calls[1].name, "get_time");
  EXPECT_EQ(r.calls[1].arguments, "{}");
  // Stopped before <|END_ACTION|>: still the calls.
  EXPECT_EQ(parse_tool_calls(ToolCallFormat::command_r7b,
                             "<|START_ACTION|>[{\"tool_name\": \"get_time\", \"parameters\": {}}]")
                .calls.size(),
            1u);
  for (const char* text : {"<|START_ACTION|>[{\"tool_name\": \"f\"}]<|END_ACTION|> and more",
                           "<|START_ACTION|>not json<|END_ACTION|>", "A plain answer."}) {
    auto t = parse_tool_calls(ToolCallFormat::command_r7b, text);
    EXPECT_TRUE(t.calls.empty()) << text;
    EXPECT_EQ(t.content, text);
  }
}

TEST(ToolCalls, DeepSeekR1CallsBetweenControlTokens) {
  auto r = parse_tool_calls(
      ToolCallFormat::deepseek_r1,
      "<think>\nThe user wants the weather in two cities.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>"
      "function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Oslo\"}\n```<｜tool▁call▁end｜>\n"
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Rome\", \"days\": 2}\n```"
      "<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.content, "<think>\nThe user wants the weather in two cities.\n</think>");
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(r.calls[1].arguments, "{\"city\": \"Rome\", \"days\": 2}");
  // Without the list opener, without the fence, cut before the end marker.
  auto bare = parse_tool_calls(ToolCallFormat::deepseek_r1,
                               "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n{}");
  ASSERT_EQ(bare.calls.size(), 1u);
  EXPECT_EQ(bare.calls[0].name, "get_time");
  EXPECT_EQ(bare.calls[0].arguments, "{}");
  for (const char* text :
       {"<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n[1]\n```<｜tool▁call▁end｜>",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n{}<｜tool▁call▁end｜>"
        "<｜tool▁calls▁end｜> trailing words",
        "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f<｜tool▁call▁end｜>\n{}", "Just text."}) {
    auto t = parse_tool_calls(ToolCallFormat::deepseek_r1, text);
    EXPECT_TRUE(t.calls.empty()) << text;
    EXPECT_EQ(t.content, text);
  }
}

TEST(ToolCalls, FormatOfEachReferenceTemplate) {
  const std::pair<const char*, ToolCallFormat> expected[] = {
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ToolCallFormat::hermes},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ToolCallFormat::hermes},
      {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat::hermes},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolCallFormat::mistral},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolCallFormat::llama3},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolCallFormat::llama3},
      {"meta-llama-Llama-3.3-70B-Instruct.jinja", ToolCallFormat::llama3},
      {"fireworks-ai-llama-3-firefunction-v2.jinja", ToolCallFormat::firefunction},
      {"meetkai-functionary-medium-v3.1.jinja", ToolCallFormat::functionary31},
      {"meetkai-functionary-medium-v3.2.jinja", ToolCallFormat::functionary32},
      {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", ToolCallFormat::command_r},
      {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", ToolCallFormat::command_r7b},
      {"llama-cpp-deepseek-r1.jinja", ToolCallFormat::deepseek_r1},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", ToolCallFormat::deepseek_r1},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", ToolCallFormat::deepseek_r1},
      {"google-gemma-2-2b-it.jinja", ToolCallFormat::none},
      {"microsoft-Phi-3.5-mini-instruct.jinja", ToolCallFormat::none},
  };
  for (const auto& [file, format] : expected) {
    const auto p = test::shared_file(std::string("templates/") + file);
    if (!std::filesystem::exists(p)) GTEST_SKIP() << p << " is absent";
    EXPECT_EQ(tool_call_format_of_template(test::read_text(p)), format) << file;
  }
}

}  // namespace
}  // namespace llmd::engine
