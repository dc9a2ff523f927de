// Building blocks of the built-in chat templates: a writer that keeps track
// of which bytes came from message content, Python's str.strip() (the
// templates' "trim"), and the folding of a system message into the first
// user message for templates without a system role.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_template.hpp"

namespace llmd::engine::chat {

class PromptBuilder {
 public:
  // Template text (parsed for special tokens when tokenized).
  PromptBuilder& markup(std::string_view s) {
    out_.text.append(s);
    return *this;
  }
  // Text from a message (tokenized as plain text).
  PromptBuilder& content(std::string_view s);
  RenderedPrompt take() { return std::move(out_); }

 private:
  RenderedPrompt out_;
};

// Python's str.strip() with no arguments: removes leading and trailing
// characters for which str.isspace() is true.
std::string_view py_strip(std::string_view s);

// "system" + "\n\n" + first user content when the conversation starts with a
// system message; a system message with no user message after it becomes a
// user message. Other messages are unchanged.
std::vector<ChatMessage> fold_system_into_first_user(std::span<const ChatMessage> messages);

// Error for a conversation a template refuses (as its Jinja raise_exception).
Error template_error(std::string_view template_name, std::string_view why);

// Checks the roles (system, user, assistant) and that there is a message.
Status check_messages(std::string_view template_name, std::span<const ChatMessage> messages);

}  // namespace llmd::engine::chat
