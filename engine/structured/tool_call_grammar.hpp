// The grammar of an answer made only of tool calls (tool_choice "required" or
// a named function), written in the model family's own format so that
// parse_tool_calls() reads it back:
//
//   hermes   <tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>
//            (calls separated by "\n")
//   mistral  [TOOL_CALLS][{"name": "NAME", "arguments": ARGS}, ...]
//   llama3   {"name": "NAME", "parameters": ARGS} (one call only)
//   firefunction   functools[{"name": "NAME", "arguments": ARGS}, ...]
//   functionary31  <function=NAME>ARGS</function> (calls back to back)
//   functionary32  NAME\nARGS (after the prompt's ">>>"), further calls >>>NAME\nARGS
//   command_r      Action:\n```json\n[\n{"tool_name": "NAME", "parameters": ARGS},\n...\n]\n```
//   command_r7b    <|START_ACTION|>[{"tool_name": "NAME", "parameters": ARGS}, ...]<|END_ACTION|>
//   deepseek_r1    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```
//                  <｜tool▁call▁end｜> (calls separated by "\n") <｜tool▁calls▁end｜>
//
// The markers of the last two are control tokens in their vocabularies: the
// vocabulary trie a constraint walks must list them (VocabTrie's
// shown_control), as the request shows them.
//
// NAME is one of the offered tools and ARGS a JSON document valid for that
// tool's parameters schema (any object when it has none).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/chat/tool_calls.hpp"
#include "engine/structured/grammar.hpp"

namespace llmd::engine::structured {

struct ToolSchema {
  std::string name;        // [A-Za-z0-9_-]{1,64}
  std::string parameters;  // JSON schema text; empty: any object
};

// Each further call allowed is one more reading the matcher follows while a
// call is written, so the number is kept small.
inline constexpr int32_t kMaxForcedCalls = 4;

// max_calls: 1 when parallel calls are off (capped at kMaxForcedCalls; the
// llama3 format holds one call). Schema errors name
// "tools[i].function.parameters..." as the place.
Result<GrammarPtr> tool_call_grammar(ToolCallFormat format, const std::vector<ToolSchema>& tools,
                                     const std::vector<size_t>& tool_indices, int32_t max_calls);

}  // namespace llmd::engine::structured
