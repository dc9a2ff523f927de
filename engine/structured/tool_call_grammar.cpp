#include "engine/structured/tool_call_grammar.hpp"

#include <algorithm>

#include "engine/structured/schema_compiler.hpp"

namespace llmd::engine::structured {

Result<GrammarPtr> tool_call_grammar(ToolCallFormat format, const std::vector<ToolSchema>& tools,
                                     const std::vector<size_t>& tool_indices, int32_t max_calls) {
  if (format == ToolCallFormat::none) {
    return Error(ErrorCode::unsupported, "the model's chat template has no tool-call format llmd can force");
  }
  if (tool_indices.empty()) return Error(ErrorCode::invalid_argument, "no tool to call");
  auto g = std::make_shared<Grammar>();
  g->allow_leading_whitespace = false;
  const bool raw = format == ToolCallFormat::functionary31 || format == ToolCallFormat::functionary32 ||
                   format == ToolCallFormat::deepseek_r1;
  std::string_view name_key = "name", args_key = "arguments";
  if (format == ToolCallFormat::llama3) args_key = "parameters";
  if (format == ToolCallFormat::command_r || format == ToolCallFormat::command_r7b) {
    name_key = "tool_name", args_key = "parameters";
  }
  const std::vector<std::string_view> markers = tool_call_markers(format);

  // One call, the opening shared by all tools: {"NAME_KEY": "NAME", "ARGS_KEY": ARGS}
  // in the JSON formats, NAME>ARGS or NAME\nARGS in functionary's.
  std::vector<int32_t> per_tool;
  for (size_t i : tool_indices) {
    const ToolSchema& t = tools[i];
    int32_t args = -1;
    if (t.parameters.empty()) {
      args = add_any_object(g.get());
    } else {
      Result<int32_t> a = add_json_schema(g.get(), t.parameters, "tools[" + std::to_string(i) + "].function.parameters");
      if (!a) return a.take_error();
      args = *a;
    }
    if (format == ToolCallFormat::functionary31) {
      per_tool.push_back(add_sequence(g.get(), {add_literal(g.get(), t.name + ">"), args}));
    } else if (format == ToolCallFormat::functionary32) {
      per_tool.push_back(add_sequence(g.get(), {add_literal(g.get(), t.name + "\n"), args}));
    } else if (format == ToolCallFormat::deepseek_r1) {
      per_tool.push_back(
          add_sequence(g.get(), {add_literal(g.get(), t.name + "\n```json\n"), args, add_literal(g.get(), "\n```")}));
    } else {
      per_tool.push_back(add_sequence(g.get(), {add_literal(g.get(), t.name + "\", \"" + std::string(args_key) + "\": "),
                                                args, add_literal(g.get(), "}")}));
    }
  }
  const int32_t any_tool = add_any_of(g.get(), per_tool);
  const int32_t call =
      raw ? any_tool
          : add_sequence(g.get(), {add_literal(g.get(), "{\"" + std::string(name_key) + "\": \""), any_tool});

  int32_t one = call;
  std::string prefix, separator, suffix;
  switch (format) {
    case ToolCallFormat::hermes:
      one = add_sequence(g.get(), {add_literal(g.get(), "<tool_call>\n"), call, add_literal(g.get(), "\n</tool_call>")});
      separator = "\n";
      break;
    case ToolCallFormat::mistral:
      prefix = "[TOOL_CALLS][", separator = ", ", suffix = "]";
      break;
    case ToolCallFormat::firefunction:
      prefix = "functools[", separator = ", ", suffix = "]";
      break;
    case ToolCallFormat::functionary31:
      one = add_sequence(g.get(), {add_literal(g.get(), "<function="), call, add_literal(g.get(), "</function>")});
      break;
    case ToolCallFormat::functionary32:
      separator = ">>>";  // the prompt's ">>>" opens the first call
      break;
    case ToolCallFormat::command_r:
      prefix = "Action:\n```json\n[\n", separator = ",\n", suffix = "\n]\n```";
      break;
    case ToolCallFormat::command_r7b:  // markers: <|START_ACTION|>, <|END_ACTION|>
      prefix = std::string(markers[0]) + "[", separator = ", ", suffix = "]" + std::string(markers[1]);
      break;
    case ToolCallFormat::deepseek_r1:  // markers: calls begin/end, call begin/end, sep
      one = add_sequence(g.get(), {add_literal(g.get(), std::string(markers[2]) + "function" + std::string(markers[4])),
                                   call, add_literal(g.get(), std::string(markers[3]))});
      prefix = markers[0], separator = "\n", suffix = markers[1];
      break;
    case ToolCallFormat::llama3:
    case ToolCallFormat::none:
      max_calls = 1;
      break;
  }
  max_calls = std::clamp(max_calls, 1, kMaxForcedCalls);
  // calls(k) = one | one SEP calls(k - 1)
  int32_t calls = one;
  for (int32_t k = 1; k < max_calls; ++k) {
    const int32_t more = separator.empty() ? add_sequence(g.get(), {one, calls})
                                           : add_sequence(g.get(), {one, add_literal(g.get(), separator), calls});
    calls = add_any_of(g.get(), {one, more});
  }
  if (!prefix.empty() || !suffix.empty()) {
    calls = add_sequence(g.get(), {add_literal(g.get(), prefix), calls, add_literal(g.get(), suffix)});
  }
  g->root = calls;
  return GrammarPtr(std::move(g));
}

}  // namespace llmd::engine::structured
