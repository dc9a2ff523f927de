// Google Gemma (<start_of_turn>user|model ... <end_of_turn>; no system role,
// so a system message is folded into the first user turn) and Zephyr
// (<|user|>\n...</s>\n, as rendered with trim_blocks).
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_gemma(const TemplateEnv& env) {
  const std::string bos = env.bos_token;
  return std::make_unique<BuiltinTemplate>("gemma", [bos](std::span<const ChatMessage> in, bool gen,
                                                          PromptBuilder& out) {
    const std::vector<ChatMessage> m = fold_system_into_first_user(in);
    out.markup(bos);
    for (size_t i = 0; i < m.size(); ++i) {
      if ((m[i].role == "user") != (i % 2 == 0)) {
        return Status(template_error("gemma", "Conversation roles must alternate user/assistant/user/assistant/..."));
      }
      const std::string role = m[i].role == "assistant" ? "model" : m[i].role;
      out.markup("<start_of_turn>" + role + "\n").content(py_strip(m[i].content)).markup("<end_of_turn>\n");
    }
    if (gen) out.markup("<start_of_turn>model\n");
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_zephyr(const TemplateEnv& env) {
  const std::string eos = env.eos_token;
  return std::make_unique<BuiltinTemplate>("zephyr", [eos](std::span<const ChatMessage> m, bool gen,
                                                           PromptBuilder& out) {
    for (const ChatMessage& msg : m) out.markup("<|" + msg.role + "|>\n").content(msg.content).markup(eos + "\n");
    if (gen) out.markup("<|assistant|>\n");
    return Status();
  });
}

}  // namespace llmd::engine::chat
