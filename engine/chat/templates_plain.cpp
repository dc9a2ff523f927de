// "plain": the default for models whose GGUF carries no chat template (base
// models): the BOS text when the tokenizer adds BOS, then the message
// contents joined by blank lines. A single user message "Once upon a time"
// becomes exactly the prompt a completion request would send.
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_plain(const TemplateEnv& env) {
  const std::string bos = env.add_bos ? env.bos_token : std::string();
  return std::make_unique<BuiltinTemplate>("plain", [bos](std::span<const ChatMessage> m, bool, PromptBuilder& out) {
    out.markup(bos);
    for (size_t i = 0; i < m.size(); ++i) {
      if (i) out.markup("\n\n");
      out.content(m[i].content);
    }
    return Status();
  });
}

}  // namespace llmd::engine::chat
