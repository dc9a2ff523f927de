// Tool calls read while the answer streams: text goes out as it comes, the
// calls at the end, and for any way of cutting the answer into pieces the
// content shown plus the calls equal what the whole answer parses to.
#include <gtest/gtest.h>

#include "engine/chat/tool_call_stream.hpp"

namespace llmd::engine {
namespace {

struct Streamed {
  std::string content;
  std::vector<ParsedToolCall> calls;
};

Streamed stream_in_pieces(ToolCallFormat f, std::string_view answer, size_t piece) {
  ToolCallStream s(f);
  Streamed out;
  for (size_t i = 0; i < answer.size(); i += piece) out.content += s.push(answer.substr(i, piece));
  ParsedOutput last = s.finish();
  out.content += last.content;
  out.calls = std::move(last.calls);
  return out;
}

// Answers of every format: plain text, text then calls, calls only, broken
// calls, and text that looks like a marker at first.
const std::vector<std::pair<ToolCallFormat, std::string>>& answers() {
  static const std::vector<std::pair<ToolCallFormat, std::string>> all = {
      {ToolCallFormat::hermes, "The weather is fine today."},
      {ToolCallFormat::hermes,
       "Let me check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
       "</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"},
      {ToolCallFormat::hermes, "<tool_call>\n{\"name\": \"search\", \"arguments\": {}}\n</tool_call>"},
      {ToolCallFormat::hermes, "Broken: <tool_call>{\"name\": \"f\", \"arguments\": {</tool_call> the end"},
      {ToolCallFormat::hermes, "Tags like <tool and <tool_ca are words here. \n\n"},
      {ToolCallFormat::mistral, "[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"query\": \"llamas\"}}]"},
      {ToolCallFormat::mistral, "No call, but [TOOL is a word [TOOL_CALL too."},
      {ToolCallFormat::llama3, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}"},
      {ToolCallFormat::llama3, "<|python_tag|>{\"name\": \"search\", \"parameters\": {}}"},
      {ToolCallFormat::llama3, "  The weather is fine. {\"name\": \"f\", \"parameters\": {}}"},
      {ToolCallFormat::llama3, "{\"answer\": 42}"},
      {ToolCallFormat::llama3, "<|python is not the tag"},
      {ToolCallFormat::firefunction, "functools[{\"name\": \"get_time\", \"arguments\": {}}]"},
      {ToolCallFormat::firefunction, "The functools module is in the standard library."},
      {ToolCallFormat::functionary31, "Let me check.<function=get_weather>{\"city\": \"Oslo\"}</function>"},
      {ToolCallFormat::functionary31, "A <function=f>[1]</function> is not a call."},
      {ToolCallFormat::functionary32, "all\nHello there, how are you?"},
      {ToolCallFormat::functionary32, "all\nChecking both.>>>get_weather\n{\"city\": \"Oslo\"}>>>get_time\n{}"},
      {ToolCallFormat::functionary32, "get_weather\n{\"city\": \"Oslo\"}"},
      {ToolCallFormat::functionary32, "get_weather\nnot json"},
      {ToolCallFormat::command_r,
       "I will look up the weather.\nAction:\n```json\n[{\"tool_name\": \"get_weather\", \"parameters\": {}}]\n```"},
      {ToolCallFormat::command_r, "No Action: needed here."},
      {ToolCallFormat::command_r7b,
       "I will look it up.<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": \"get_time\", \"parameters\": "
       "{}}]<|END_ACTION|>"},
      {ToolCallFormat::command_r7b, "A plain answer with <|START_ACT in it."},
      {ToolCallFormat::deepseek_r1,
       "<think>\nweather\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
       "```json\n{\"city\": \"Oslo\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
      {ToolCallFormat::deepseek_r1, "<think>\nhm\n</think>\n\nIt is sunny in Oslo."},
      {ToolCallFormat::none, "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>"},
  };
  return all;
}

TEST(ToolCallStream, AnyCuttingGivesTheWholeAnswersContentAndCalls) {
  for (const auto& [format, answer] : answers()) {
    const ParsedOutput whole = parse_tool_calls(format, answer);
    for (size_t piece : {answer.size(), size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{11}}) {
      const Streamed s = stream_in_pieces(format, answer, piece);
      SCOPED_TRACE(std::string(tool_call_format_name(format)) + " piece " + std::to_string(piece) + ": " + answer);
      ASSERT_EQ(s.calls.size(), whole.calls.size());
      for (size_t i = 0; i < s.calls.size(); ++i) {
        EXPECT_EQ(s.calls[i].name, whole.calls[i].name);
        EXPECT_EQ(s.calls[i].arguments, whole.calls[i].arguments);
      }
      if (whole.calls.empty()) {
        EXPECT_EQ(s.content, whole.content);
      } else {
        // Leading whitespace shown before a call is all the two may differ by.
        EXPECT_EQ(s.content.substr(s.content.find_first_not_of(" \n") == std::string::npos
                                       ? s.content.size()
                                       : s.content.find_first_not_of(" \n")),
                  whole.content);
      }
    }
  }
}

TEST(ToolCallStream, TextGoesOutAsItComesAndACallIsHeld) {
  ToolCallStream s(ToolCallFormat::hermes);
  EXPECT_EQ(s.push("The weather in Oslo"), "The weather in Oslo");
  EXPECT_EQ(s.push(" is "), " is");  // whitespace waits for what follows it
  EXPECT_EQ(s.push("sunny. <to"), " sunny.");
  EXPECT_EQ(s.push("ol_call>{\"name\": \"get_weather\", "), "");
  EXPECT_EQ(s.push("\"arguments\": {\"city\": \"Oslo\"}}</tool_call>"), "");
  ParsedOutput end = s.finish();
  EXPECT_EQ(end.content, "");
  ASSERT_EQ(end.calls.size(), 1u);
  EXPECT_EQ(end.calls[0].name, "get_weather");
}

TEST(ToolCallStream, AMarkerThatDoesNotCompleteIsReleased) {
  ToolCallStream s(ToolCallFormat::hermes);
  EXPECT_EQ(s.push("a <tool"), "a");
  EXPECT_EQ(s.push("box"), " <toolbox");
  EXPECT_EQ(s.finish().content, "");
}

TEST(ToolCallStream, WholeAnswerFormatsDecideOnTheFirstBytes) {
  ToolCallStream prose(ToolCallFormat::llama3);
  EXPECT_EQ(prose.push("  "), "");
  EXPECT_EQ(prose.push("It is"), "  It is");
  EXPECT_EQ(prose.push(" {\"name\": 1}"), " {\"name\": 1}");  // a call is the whole answer or none
  ToolCallStream tagged(ToolCallFormat::llama3);
  EXPECT_EQ(tagged.push("<|python"), "");
  EXPECT_EQ(tagged.push("_tag|>{\"name\": \"f\", \"parameters\": {}}"), "");
  EXPECT_EQ(tagged.finish().calls.size(), 1u);

  ToolCallStream recipient(ToolCallFormat::functionary32);
  EXPECT_EQ(recipient.push("al"), "");
  EXPECT_EQ(recipient.push("l\nHello"), "Hello");
  EXPECT_EQ(recipient.push(" there>>>"), " there");
  EXPECT_EQ(recipient.push("get_time\n{}"), "");
  ParsedOutput end = recipient.finish();
  EXPECT_EQ(end.content, "");
  ASSERT_EQ(end.calls.size(), 1u);
  EXPECT_EQ(end.calls[0].name, "get_time");
}

TEST(ToolCallStream, ControlTokenMarkersHoldTheCall) {
  ToolCallStream s(ToolCallFormat::deepseek_r1);
  EXPECT_EQ(s.push("<think>\nweather\n</think>\n\n"), "<think>\nweather\n</think>");
  EXPECT_EQ(s.push("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n"), "");
  EXPECT_EQ(s.push("```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"), "");
  ParsedOutput end = s.finish();
  EXPECT_EQ(end.content, "");
  ASSERT_EQ(end.calls.size(), 1u);
  EXPECT_EQ(end.calls[0].name, "get_time");
}

}  // namespace
}  // namespace llmd::engine
