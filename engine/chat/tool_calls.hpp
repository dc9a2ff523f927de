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
//
// Formats written with control tokens that llmd does not show as text
// (DeepSeek R1's <｜tool▁calls▁begin｜>, Command R7B's <|START_ACTION|>) are
// not read: their templates give `none`.
//
// Text that is not a well-formed call stays text: the parser never drops
// output it does not understand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmd::engine {

enum class ToolCallFormat { none, hermes, mistral, llama3, firefunction, functionary31, functionary32, command_r };

// The format a chat template's text teaches (none when it has no tool calls
// llmd can read).
ToolCallFormat tool_call_format_of_template(std::string_view template_source);
std::string_view tool_call_format_name(ToolCallFormat f);

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
