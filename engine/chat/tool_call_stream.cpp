#include "engine/chat/tool_call_stream.hpp"

#include <algorithm>

#include "engine/chat/prompt_builder.hpp"

namespace llmd::engine {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view lstrip(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

constexpr std::string_view kPythonTag = "<|python_tag|>";

// The texts that open a call in the formats that mark their calls.
std::vector<std::string_view> call_starts(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::hermes: return {"<tool_call>"};
    case ToolCallFormat::mistral: return {"[TOOL_CALLS]"};
    case ToolCallFormat::firefunction: return {"functools"};
    case ToolCallFormat::functionary31: return {"<function="};
    case ToolCallFormat::functionary32: return {">>>"};
    case ToolCallFormat::command_r: return {"Action:"};
    case ToolCallFormat::command_r7b: return {"<|START_ACTION|>"};
    case ToolCallFormat::deepseek_r1: {
      const auto markers = tool_call_markers(f);
      return {markers[0], markers[2]};  // the list opener, or a call's own
    }
    case ToolCallFormat::llama3:
    case ToolCallFormat::none: break;
  }
  return {};
}

}  // namespace

ToolCallStream::ToolCallStream(ToolCallFormat format) : format_(format), starts_(call_starts(format)) {
  switch (format) {
    case ToolCallFormat::none: mode_ = Mode::free; break;
    case ToolCallFormat::llama3:
    case ToolCallFormat::functionary32: mode_ = Mode::undecided; break;
    default: mode_ = Mode::markers; break;
  }
}

std::string ToolCallStream::push(std::string_view text) {
  all_ += text;
  switch (mode_) {
    case Mode::held: return {};
    case Mode::free: return release(all_.size());
    case Mode::undecided: return decide_start();
    case Mode::markers: return scan_markers();
  }
  return {};
}

std::string ToolCallStream::release(size_t end) {
  std::string out = all_.substr(shown_end_, end - shown_end_);
  shown_ += out;
  shown_end_ = end;
  return out;
}

std::string ToolCallStream::decide_start() {
  if (format_ == ToolCallFormat::functionary32) {
    // The answer opens with its recipient line: "all" is text, a name a call.
    const size_t nl = all_.find('\n');
    if (nl == std::string::npos) return {};
    if (chat::py_strip(std::string_view(all_).substr(0, nl)) != "all") {
      mode_ = Mode::held;
      return {};
    }
    shown_end_ = nl + 1;
    mode_ = Mode::markers;
    return scan_markers();
  }
  // llama3: a call is the whole answer, a JSON object (after <|python_tag|>).
  const std::string_view answer = lstrip(all_);
  if (answer.empty()) return {};
  if (answer.front() == '{' || starts_with(answer, kPythonTag)) {
    mode_ = Mode::held;
    return {};
  }
  if (starts_with(kPythonTag, answer)) return {};
  mode_ = Mode::free;
  return release(all_.size());
}

std::string ToolCallStream::scan_markers() {
  size_t at = std::string::npos;
  for (std::string_view m : starts_) at = std::min(at, all_.find(m, shown_end_));
  size_t end = all_.size();
  if (at != std::string::npos) {
    mode_ = Mode::held;
    end = at;
  } else {
    // A tail that may still grow into a marker waits for the next text.
    size_t hold = 0;
    for (std::string_view m : starts_) {
      for (size_t k = std::min(m.size() - 1, end - shown_end_); k > hold; --k) {
        if (std::string_view(all_).substr(end - k, k) == m.substr(0, k)) {
          hold = k;
          break;
        }
      }
    }
    end -= hold;
  }
  // Whitespace goes out only with the text after it: before a call it is
  // not content.
  while (end > shown_end_ && is_space(all_[end - 1])) --end;
  return release(end);
}

ParsedOutput ToolCallStream::finish() {
  ParsedOutput parsed = parse_tool_calls(format_, all_);
  std::string_view content = parsed.content;
  std::string rest;
  if (!parsed.calls.empty()) {
    const std::string_view shown = lstrip(shown_);
    if (starts_with(content, shown)) rest = content.substr(shown.size());
  } else if (starts_with(content, shown_)) {
    rest = content.substr(shown_.size());
  } else {
    rest = all_.substr(shown_end_);
  }
  parsed.content = std::move(rest);
  return parsed;
}

}  // namespace llmd::engine
