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

}  // namespace

ToolCallFormat tool_call_format_of_template(std::string_view t) {
  // Function-calling fine-tunes with formats of their own (firefunction's
  // functools, functionary's >>> and <function=) are not read.
  if (contains(t, "functools") || contains(t, ">>>") || contains(t, "<function=")) return ToolCallFormat::none;
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
    case ToolCallFormat::none: break;
  }
  return "none";
}

ParsedOutput parse_tool_calls(ToolCallFormat format, std::string_view output) {
  switch (format) {
    case ToolCallFormat::hermes: return parse_hermes(output);
    case ToolCallFormat::mistral: return parse_mistral(output);
    case ToolCallFormat::llama3: return parse_llama3(output);
    case ToolCallFormat::none: break;
  }
  return as_text(output);
}

}  // namespace llmd::engine
