#include "engine/chat/tool_calls.hpp"

#include "engine/chat/prompt_builder.hpp"
#include "engine/jinja/json.hpp"

namespace llmd::engine {
namespace {

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// {"name": "...", "arguments"/"parameters": {...}} as a call, if it is one.
bool call_from_json(std::string_view text, ParsedToolCall* out) {
  auto v = jinja::parse_json(text, false);
  if (!v || !v->is_dict()) return false;
  const jinja::Value* name = v->dict().find("name");
  if (!name || !name->is_string() || name->text().empty()) return false;
  const jinja::Value* args = v->dict().find("arguments");
  if (!args) args = v->dict().find("parameters");
  std::string arguments = "{}";
  if (args && args->is_string()) {
    arguments = args->text();  // already JSON text
  } else if (args && args->is_dict()) {
    auto j = jinja::to_json(*args);
    if (!j) return false;
    arguments = std::move(j->text);
  } else if (args && !args->is_none()) {
    return false;
  }
  out->name = name->text();
  out->arguments = std::move(arguments);
  return true;
}

ParsedOutput as_text(std::string_view output) { return ParsedOutput{std::string(output), {}}; }

ParsedOutput parse_hermes(std::string_view output) {
  constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
  const size_t first = output.find(open);
  if (first == std::string_view::npos) return as_text(output);
  ParsedOutput r;
  r.content = std::string(chat::py_strip(output.substr(0, first)));
  size_t pos = first;
  while (pos != std::string_view::npos && pos < output.size()) {
    const size_t body = pos + open.size();
    const size_t end = output.find(close, body);
    ParsedToolCall call;
    // The last call may lack its closing tag when generation stopped at it.
    const std::string_view json = output.substr(body, end == std::string_view::npos ? std::string_view::npos : end - body);
    if (!call_from_json(chat::py_strip(json), &call)) return as_text(output);
    r.calls.push_back(std::move(call));
    if (end == std::string_view::npos) break;
    const size_t next = output.find(open, end + close.size());
    if (next == std::string_view::npos) {
      if (!chat::py_strip(output.substr(end + close.size())).empty()) return as_text(output);
      break;
    }
    if (!chat::py_strip(output.substr(end + close.size(), next - end - close.size())).empty()) return as_text(output);
    pos = next;
  }
  return r;
}

ParsedOutput parse_mistral(std::string_view output) {
  constexpr std::string_view tag = "[TOOL_CALLS]";
  const size_t at = output.find(tag);
  if (at == std::string_view::npos) return as_text(output);
  auto v = jinja::parse_json(chat::py_strip(output.substr(at + tag.size())), false);
  if (!v || !v->is_list() || v->list().empty()) return as_text(output);
  ParsedOutput r;
  r.content = std::string(chat::py_strip(output.substr(0, at)));
  for (const jinja::Value& item : v->list()) {
    auto j = jinja::to_json(item);
    ParsedToolCall call;
    if (!j || !call_from_json(j->text, &call)) return as_text(output);
    r.calls.push_back(std::move(call));
  }
  return r;
}

ParsedOutput parse_llama3(std::string_view output) {
  std::string_view s = chat::py_strip(output);
  constexpr std::string_view python_tag = "<|python_tag|>";
  if (s.substr(0, python_tag.size()) == python_tag) s = chat::py_strip(s.substr(python_tag.size()));
  if (s.empty() || s.front() != '{') return as_text(output);
  ParsedToolCall call;
  if (!call_from_json(s, &call)) return as_text(output);
  ParsedOutput r;
  r.calls.push_back(std::move(call));
  return r;
}

// A JSON list of call objects after `marker` (the text before it is content),
// up to `end_marker` when one is given (and present: generation may stop
// before it). `name_key`/`args_key`: the object's fields; calls named in
// `skip` are no calls.
ParsedOutput parse_json_list_after(std::string_view output, std::string_view marker, std::string_view name_key,
                                   std::string_view args_key, std::string_view skip = {},
                                   std::string_view end_marker = {}) {
  const size_t at = output.find(marker);
  if (at == std::string_view::npos) return as_text(output);
  std::string_view rest = output.substr(at + marker.size());
  if (!end_marker.empty()) {
    const size_t end = rest.find(end_marker);
    if (end != std::string_view::npos) {
      if (!chat::py_strip(rest.substr(end + end_marker.size())).empty()) return as_text(output);
      rest = rest.substr(0, end);
    }
  }
  rest = chat::py_strip(rest);
  constexpr std::string_view fence = "```json", fence_end = "```";
  if (rest.substr(0, fence.size()) == fence) {
    rest = rest.substr(fence.size());
    const size_t end = rest.rfind(fence_end);
    if (end != std::string_view::npos) rest = rest.substr(0, end);
    rest = chat::py_strip(rest);
  }
  auto v = jinja::parse_json(rest, false);
  if (!v || !v->is_list() || v->list().empty()) return as_text(output);
  ParsedOutput r;
  r.content = std::string(chat::py_strip(output.substr(0, at)));
  for (const jinja::Value& item : v->list()) {
    if (!item.is_dict()) return as_text(output);
    const jinja::Value* name = item.dict().find(std::string(name_key));
    const jinja::Value* args = item.dict().find(std::string(args_key));
    if (!name || !name->is_string() || name->text().empty()) return as_text(output);
    if (!skip.empty() && name->text() == skip) continue;
    ParsedToolCall call;
    call.name = name->text();
    call.arguments = "{}";
    if (args && args->is_string()) {
      call.arguments = args->text();
    } else if (args && args->is_dict()) {
      auto j = jinja::to_json(*args);
      if (!j) return as_text(output);
      call.arguments = std::move(j->text);
    } else if (args && !args->is_none()) {
      return as_text(output);
    }
    r.calls.push_back(std::move(call));
  }
  if (r.calls.empty()) return as_text(output);
  return r;
}

// NAME and a JSON object as a call; false unless `args` is an object.
bool call_from_parts(std::string_view name, std::string_view args, ParsedToolCall* out) {
  name = chat::py_strip(name);
  args = chat::py_strip(args);
  if (name.empty()) return false;
  auto v = jinja::parse_json(args, false);
  if (!v || !v->is_dict()) return false;
  out->name = std::string(name);
  out->arguments = std::string(args);
  return true;
}

ParsedOutput parse_functionary31(std::string_view output) {
  constexpr std::string_view open = "<function=", close = "</function>";
  const size_t first = output.find(open);
  if (first == std::string_view::npos) return as_text(output);
  ParsedOutput r;
  r.content = std::string(chat::py_strip(output.substr(0, first)));
  for (size_t pos = first; pos != std::string_view::npos;) {
    const size_t name_end = output.find('>', pos + open.size());
    if (name_end == std::string_view::npos) return as_text(output);
    const size_t end = output.find(close, name_end + 1);
    // The last call may lack its closing tag when generation stopped at it.
    const std::string_view args =
        output.substr(name_end + 1, end == std::string_view::npos ? std::string_view::npos : end - name_end - 1);
    ParsedToolCall call;
    if (!call_from_parts(output.substr(pos + open.size(), name_end - pos - open.size()), args, &call)) {
      return as_text(output);
    }
    r.calls.push_back(std::move(call));
    if (end == std::string_view::npos) break;
    const size_t next = output.find(open, end + close.size());
    const std::string_view between = output.substr(
        end + close.size(), next == std::string_view::npos ? std::string_view::npos : next - end - close.size());
    if (!chat::py_strip(between).empty()) return as_text(output);
    pos = next;
  }
  return r;
}

ParsedOutput parse_functionary32(std::string_view output) {
  // The generation prompt ends with ">>>": the answer opens with its first
  // recipient line.
  ParsedOutput r;
  std::string text;
  for (size_t pos = 0; pos <= output.size();) {
    const size_t next = output.find(">>>", pos);
    const std::string_view segment =
        output.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    const size_t nl = segment.find('\n');
    const std::string_view recipient = chat::py_strip(segment.substr(0, nl));
    const std::string_view body = nl == std::string_view::npos ? std::string_view{} : segment.substr(nl + 1);
    if (recipient == "all") {
      text += body;
    } else {
      ParsedToolCall call;
      if (nl == std::string_view::npos || !call_from_parts(recipient, body, &call)) return as_text(output);
      r.calls.push_back(std::move(call));
    }
    if (next == std::string_view::npos) break;
    pos = next + 3;
  }
  r.content = r.calls.empty() ? text : std::string(chat::py_strip(text));
  return r;
}

namespace deepseek {
constexpr std::string_view calls_begin = "<｜tool▁calls▁begin｜>", calls_end = "<｜tool▁calls▁end｜>";
constexpr std::string_view call_begin = "<｜tool▁call▁begin｜>", call_end = "<｜tool▁call▁end｜>";
constexpr std::string_view sep = "<｜tool▁sep｜>";
}  // namespace deepseek

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

ParsedOutput parse_deepseek_r1(std::string_view output) {
  using namespace deepseek;
  // The list opener may be missing when the model starts with a call.
  size_t start = output.find(calls_begin);
  size_t pos = start == std::string_view::npos ? std::string_view::npos : start + calls_begin.size();
  if (start == std::string_view::npos) pos = start = output.find(call_begin);
  if (start == std::string_view::npos) return as_text(output);
  ParsedOutput r;
  r.content = std::string(chat::py_strip(output.substr(0, start)));
  for (;;) {
    std::string_view rest = chat::py_strip(output.substr(pos));
    pos = output.size() - rest.size();
    if (rest.empty()) break;
    if (starts_with(rest, calls_end)) {
      if (!chat::py_strip(rest.substr(calls_end.size())).empty()) return as_text(output);
      break;
    }
    if (!starts_with(rest, call_begin)) return as_text(output);
    rest = rest.substr(call_begin.size());
    const size_t at_sep = rest.find(sep);
    if (at_sep == std::string_view::npos || chat::py_strip(rest.substr(0, at_sep)) != "function") return as_text(output);
    rest = rest.substr(at_sep + sep.size());
    const size_t nl = rest.find('\n');
    // The last call may lack its end marker when generation stopped at it.
    const size_t end = rest.find(call_end);
    if (nl == std::string_view::npos || end < nl) return as_text(output);
    std::string_view args = chat::py_strip(rest.substr(nl + 1, end == std::string_view::npos ? end : end - nl - 1));
    constexpr std::string_view fence = "```json", fence_end = "```";
    if (starts_with(args, fence)) {
      args = args.substr(fence.size());
      const size_t close = args.rfind(fence_end);
      if (close != std::string_view::npos) args = args.substr(0, close);
    }
    ParsedToolCall call;
    if (!call_from_parts(rest.substr(0, nl), args, &call)) return as_text(output);
    r.calls.push_back(std::move(call));
    if (end == std::string_view::npos) break;
    pos = static_cast<size_t>(rest.data() - output.data()) + end + call_end.size();
  }
  return r;
}

}  // namespace

ToolCallFormat tool_call_format_of_template(std::string_view t) {
  if (contains(t, "<|START_ACTION|>") && contains(t, "\"tool_name\"")) return ToolCallFormat::command_r7b;
  if (contains(t, "tool▁calls▁begin") && contains(t, "tool▁sep")) return ToolCallFormat::deepseek_r1;
  if (contains(t, "functools[")) return ToolCallFormat::firefunction;
  if (contains(t, "<function=") && contains(t, "</function>")) return ToolCallFormat::functionary31;
  if (contains(t, ">>>all")) return ToolCallFormat::functionary32;
  if (contains(t, "Action:") && contains(t, "\"tool_name\"") && contains(t, "```json")) return ToolCallFormat::command_r;
  if (contains(t, "<tool_call>")) return ToolCallFormat::hermes;
  if (contains(t, "[TOOL_CALLS]")) return ToolCallFormat::mistral;
  if (contains(t, "<|start_header_id|>") && contains(t, "\"parameters\"") && contains(t, "tools")) {
    return ToolCallFormat::llama3;
  }
  return ToolCallFormat::none;
}

std::string_view tool_call_format_name(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::hermes: return "hermes";
    case ToolCallFormat::mistral: return "mistral";
    case ToolCallFormat::llama3: return "llama3";
    case ToolCallFormat::firefunction: return "firefunction";
    case ToolCallFormat::functionary31: return "functionary-v3.1";
    case ToolCallFormat::functionary32: return "functionary-v3.2";
    case ToolCallFormat::command_r: return "command-r";
    case ToolCallFormat::command_r7b: return "command-r7b";
    case ToolCallFormat::deepseek_r1: return "deepseek-r1";
    case ToolCallFormat::none: break;
  }
  return "none";
}

std::vector<std::string_view> tool_call_markers(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::hermes: return {"<tool_call>", "</tool_call>"};
    case ToolCallFormat::mistral: return {"[TOOL_CALLS]"};
    case ToolCallFormat::llama3: return {"<|python_tag|>"};
    case ToolCallFormat::firefunction: return {"functools"};
    case ToolCallFormat::functionary31: return {"<function=", "</function>"};
    case ToolCallFormat::functionary32: return {">>>"};
    case ToolCallFormat::command_r: return {"Action:"};
    case ToolCallFormat::command_r7b: return {"<|START_ACTION|>", "<|END_ACTION|>"};
    case ToolCallFormat::deepseek_r1:
      return {deepseek::calls_begin, deepseek::calls_end, deepseek::call_begin, deepseek::call_end, deepseek::sep};
    case ToolCallFormat::none: break;
  }
  return {};
}

ParsedOutput parse_tool_calls(ToolCallFormat format, std::string_view output) {
  switch (format) {
    case ToolCallFormat::hermes: return parse_hermes(output);
    case ToolCallFormat::mistral: return parse_mistral(output);
    case ToolCallFormat::llama3: return parse_llama3(output);
    case ToolCallFormat::firefunction: return parse_json_list_after(output, "functools", "name", "arguments");
    case ToolCallFormat::functionary31: return parse_functionary31(output);
    case ToolCallFormat::functionary32: return parse_functionary32(output);
    case ToolCallFormat::command_r:
      return parse_json_list_after(output, "Action:", "tool_name", "parameters", "directly_answer");
    case ToolCallFormat::command_r7b:
      return parse_json_list_after(output, "<|START_ACTION|>", "tool_name", "parameters", {}, "<|END_ACTION|>");
    case ToolCallFormat::deepseek_r1: return parse_deepseek_r1(output);
    case ToolCallFormat::none: break;
  }
  return as_text(output);
}

}  // namespace llmd::engine
