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
  const std::string_view args_key = format == ToolCallFormat::llama3 ? "parameters" : "arguments";

  // One call: {"name": "NAME", "<args_key>": ARGS}, the opening shared by all tools.
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
    per_tool.push_back(add_sequence(
        g.get(), {add_literal(g.get(), t.name + "\", \"" + std::string(args_key) + "\": "), args, add_literal(g.get(), "}")}));
  }
  const int32_t call = add_sequence(g.get(), {add_literal(g.get(), "{\"name\": \""), add_any_of(g.get(), per_tool)});

  int32_t one = call;
  std::string separator;
  if (format == ToolCallFormat::hermes) {
    one = add_sequence(g.get(), {add_literal(g.get(), "<tool_call>\n"), call, add_literal(g.get(), "\n</tool_call>")});
    separator = "\n";
  } else if (format == ToolCallFormat::mistral) {
    separator = ", ";
  } else {
    max_calls = 1;
  }
  max_calls = std::clamp(max_calls, 1, kMaxForcedCalls);
  // calls(k) = one | one SEP calls(k - 1)
  int32_t calls = one;
  for (int32_t k = 1; k < max_calls; ++k) {
    calls = add_any_of(g.get(), {one, add_sequence(g.get(), {one, add_literal(g.get(), separator), calls})});
  }
  if (format == ToolCallFormat::mistral) {
    calls = add_sequence(g.get(), {add_literal(g.get(), "[TOOL_CALLS]["), calls, add_literal(g.get(), "]")});
  }
  g->root = calls;
  return GrammarPtr(std::move(g));
}

}  // namespace llmd::engine::structured
