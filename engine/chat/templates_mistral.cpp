// Mistral's [INST] formats. v1 (7B v0.1/v0.2): "[INST] user [/INST]answer</s>",
// no system role (folded into the first user turn). v3 (7B v0.3, Large 2407):
// "[INST] user[/INST] answer</s>" with the system message in front of the last
// user turn; v3-tekken (Nemo) drops the spaces. v7 (Large 2411): a
// [SYSTEM_PROMPT] block.
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_mistral_v1(const TemplateEnv& env) {
  const std::string bos = env.bos_token, eos = env.eos_token;
  return std::make_unique<BuiltinTemplate>("mistral-v1", [bos, eos](std::span<const ChatMessage> in, bool,
                                                                    PromptBuilder& out) {
    const std::vector<ChatMessage> m = fold_system_into_first_user(in);
    out.markup(bos);
    for (size_t i = 0; i < m.size(); ++i) {
      if ((m[i].role == "user") != (i % 2 == 0)) {
        return Status(
            template_error("mistral-v1", "Conversation roles must alternate user/assistant/user/assistant/..."));
      }
      if (m[i].role == "user") out.markup("[INST] ").content(m[i].content).markup(" [/INST]");
      else if (m[i].role == "assistant") out.content(m[i].content).markup(eos);
      else return Status(template_error("mistral-v1", "Only user and assistant roles are supported!"));
    }
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_mistral_v3(const std::string& name, const TemplateEnv& env, bool tekken) {
  const std::string bos = env.bos_token, eos = env.eos_token;
  return std::make_unique<BuiltinTemplate>(name, [name, bos, eos, tekken](std::span<const ChatMessage> m, bool,
                                                                          PromptBuilder& out) {
    const bool has_system = m[0].role == "system";
    const std::span<const ChatMessage> loop = has_system ? m.subspan(1) : m;
    for (size_t i = 0; i < loop.size(); ++i) {
      if ((loop[i].role == "user") != (i % 2 == 0)) {
        return Status(template_error(name, "After the optional system message, conversation roles must alternate "
                                           "user/assistant/user/assistant/..."));
      }
    }
    const std::string inst = tekken ? "[INST]" : "[INST] ";
    out.markup(bos);
    for (size_t i = 0; i < loop.size(); ++i) {
      const ChatMessage& msg = loop[i];
      if (msg.role == "user") {
        out.markup(inst);
        // The system message goes in front of the last message, when that is a user turn.
        if (i + 1 == loop.size() && has_system) out.content(m[0].content).markup("\n\n");
        out.content(msg.content).markup("[/INST]");
      } else if (msg.role == "assistant") {
        if (tekken) out.content(msg.content).markup(eos);
        else out.markup(" ").content(py_strip(msg.content)).markup(eos);
      } else {
        return Status(template_error(name, "Only user and assistant roles are supported, with the exception of an "
                                           "initial optional system message!"));
      }
    }
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_mistral_v7(const TemplateEnv& env) {
  const std::string bos = env.bos_token, eos = env.eos_token;
  return std::make_unique<BuiltinTemplate>("mistral-v7", [bos, eos](std::span<const ChatMessage> m, bool,
                                                                    PromptBuilder& out) {
    out.markup(bos);
    for (const ChatMessage& msg : m) {
      if (msg.role == "user") out.markup("[INST] ").content(msg.content).markup("[/INST]");
      else if (msg.role == "system") out.markup("[SYSTEM_PROMPT] ").content(msg.content).markup("[/SYSTEM_PROMPT]");
      else out.markup(" ").content(msg.content).markup(eos);
    }
    return Status();
  });
}

}  // namespace llmd::engine::chat
