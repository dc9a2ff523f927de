#include "engine/chat/prompt_builder.hpp"

#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::chat {
namespace {

// Characters Python's str.isspace() accepts.
bool py_space(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace

PromptBuilder& PromptBuilder::content(std::string_view s) {
  if (!s.empty()) {
    const size_t begin = out_.text.size();
    out_.text.append(s);
    out_.content_ranges.emplace_back(begin, out_.text.size());
  }
  return *this;
}

std::string_view py_strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    uint32_t cp = 0;
    const size_t n = utf8::decode(s, begin, &cp);
    if (n == 0 || !py_space(cp)) break;
    begin += n;
  }
  size_t end = begin;  // end of the last character that is not a space
  for (size_t pos = begin; pos < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8::decode(s, pos, &cp);
    if (n == 0) {
      end = ++pos;  // ill-formed bytes are kept
      continue;
    }
    pos += n;
    if (!py_space(cp)) end = pos;
  }
  return s.substr(begin, end - begin);
}

std::vector<ChatMessage> fold_system_into_first_user(std::span<const ChatMessage> messages) {
  std::vector<ChatMessage> out(messages.begin(), messages.end());
  if (out.empty() || out[0].role != "system") return out;
  if (out.size() > 1 && out[1].role == "user") {
    out[1].content = out[0].content + "\n\n" + out[1].content;
    out.erase(out.begin());
  } else {
    out[0].role = "user";
  }
  return out;
}

Error template_error(std::string_view template_name, std::string_view why) {
  return Error(ErrorCode::chat_template_error, "chat template '" + std::string(template_name) + "': " + std::string(why));
}

Status check_messages(std::string_view template_name, std::span<const ChatMessage> messages) {
  if (messages.empty()) return template_error(template_name, "the conversation has no messages");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant") {
      return Error(ErrorCode::chat_bad_role, "message " + std::to_string(i) + " has role '" + r +
                                        "'; the built-in templates take system, user and assistant");
    }
  }
  return {};
}

}  // namespace llmd::engine::chat
