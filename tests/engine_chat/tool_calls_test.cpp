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

TEST(ToolCalls, FormatOfEachReferenceTemplate) {
  const std::pair<const char*, ToolCallFormat> expected[] = {
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ToolCallFormat::hermes},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ToolCallFormat::hermes},
      {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat::hermes},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolCallFormat::mistral},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolCallFormat::llama3},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolCallFormat::llama3},
      {"meta-llama-Llama-3.3-70B-Instruct.jinja", ToolCallFormat::llama3},
      {"fireworks-ai-llama-3-firefunction-v2.jinja", ToolCallFormat::none},
      {"meetkai-functionary-medium-v3.1.jinja", ToolCallFormat::none},
      {"meetkai-functionary-medium-v3.2.jinja", ToolCallFormat::none},
      {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", ToolCallFormat::none},
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
