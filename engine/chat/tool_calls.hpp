// Tool calls in a model's output. A model family writes its calls in its
// own format; the format is known from the chat template that taught it:
//
//   hermes    <tool_call>{"name": ..., "arguments": {...}}</tool_call> (repeated)
//             — Hermes 2 Pro / 3, Qwen 2.5 and other ChatML tool templates
//   mistral   [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]
//   llama3    {"name": ..., "parameters": {...}} as the whole answer, optionally
//             after <|python_tag|> — Llama 3.1 / 3.2 / 3.3
//   firefunction   functools[{"name": ..., "arguments": {...}}, ...] — firefunction v2
//   functionary31  <function=NAME>{...}</function> (repeated) — functionary v3.1
//   functionary32  NAME\n{...} after the prompt's ">>>", further calls as
//                  >>>NAME\n{...}; the recipient "all" is text — functionary v3.2
//   command_r Action:\n```json\n[{"tool_name": ..., "parameters": {...}}, ...]\n```
//             — Command R / R+ (its "directly_answer" tool is no call)
//   command_r7b    <|START_ACTION|>[{"tool_call_id": ..., "tool_name": ...,
//                  "parameters": {...}}, ...]<|END_ACTION|> — Command R7B
//   deepseek_r1    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
//                  ```json\nARGS\n```<｜tool▁call▁end｜>... <｜tool▁calls▁end｜>
//                  — DeepSeek R1 and its distills
//
// The markers of the last two (and of some vocabularies' [TOOL_CALLS] and
// <|python_tag|>) are control tokens, which a generation does not show as
// text; a request with tools has the scheduler show tool_call_markers() so
// that the parser sees them (they never reach the client outside a call
// that failed to parse).
//
// Text that is not a well-formed call stays text: the parser never drops
// output it does not understand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmd::engine {

enum class ToolCallFormat {
  none,
  hermes,
  mistral,
  llama3,
  firefunction,
  functionary31,
  functionary32,
  command_r,
  command_r7b,
  deepseek_r1,
};

// The format a chat template's text teaches (none when it has no tool calls
// llmd can read).
ToolCallFormat tool_call_format_of_template(std::string_view template_source);
std::string_view tool_call_format_name(ToolCallFormat f);

// Every marker text the format's calls are written with (what must be shown
// as text when the vocabulary has it as a control token).
std::vector<std::string_view> tool_call_markers(ToolCallFormat f);

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // JSON text of the arguments object (OpenAI's "arguments" string)
};

struct ParsedOutput {
  std::string content;  // the text outside the calls (trimmed when there are calls)
  std::vector<ParsedToolCall> calls;
};

// Splits a finished generation into text and tool calls.
ParsedOutput parse_tool_calls(ToolCallFormat format, std::string_view output);

}  // namespace llmd::engine
