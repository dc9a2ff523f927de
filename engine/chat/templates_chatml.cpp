// ChatML: <|im_start|>role\ncontent<|im_end|>\n per message and
// <|im_start|>assistant\n to prompt an answer. Qwen's variants add a default
// system message when the conversation has none; some variants start with
// the BOS text.
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_chatml(const std::string& name, const TemplateEnv& env, const TemplateOptions& opt,
                                          const std::string& default_system) {
  const std::string bos = opt.bos_prefix ? env.bos_token : std::string();
  return std::make_unique<BuiltinTemplate>(
      name, [bos, default_system](std::span<const ChatMessage> m, bool gen, PromptBuilder& out) {
        out.markup(bos);
        if (!default_system.empty() && m[0].role != "system") {
          out.markup("<|im_start|>system\n" + default_system + "<|im_end|>\n");
        }
        for (const ChatMessage& msg : m) {
          out.markup("<|im_start|>" + msg.role + "\n").content(msg.content).markup("<|im_end|>\n");
        }
        if (gen) out.markup("<|im_start|>assistant\n");
        return Status();
      });
}

}  // namespace llmd::engine::chat
