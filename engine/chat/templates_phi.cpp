// Microsoft Phi-3 formats. The original Phi-3 mini template writes
// "<|user|>\n...<|end|>\n<|assistant|>\n" for each user turn and has no
// system role (folded into the first user turn). Phi-3.5 (and later Phi-3
// revisions) write <|system|>, <|user|> and <|assistant|> turns ending in
// <|end|>, and the EOS text when no answer is prompted.
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_phi3(const TemplateEnv& env, const TemplateOptions& opt) {
  const std::string bos = opt.bos_prefix ? env.bos_token : std::string();
  return std::make_unique<BuiltinTemplate>("phi-3", [bos](std::span<const ChatMessage> in, bool,
                                                          PromptBuilder& out) {
    const std::vector<ChatMessage> m = fold_system_into_first_user(in);
    out.markup(bos);
    for (const ChatMessage& msg : m) {
      if (msg.role == "user") out.markup("<|user|>\n").content(msg.content).markup("<|end|>\n<|assistant|>\n");
      else if (msg.role == "assistant") out.content(msg.content).markup("<|end|>\n");
      // A later system message is left out, as the original template does.
    }
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_phi35(const TemplateEnv& env, const TemplateOptions& opt) {
  const std::string bos = opt.bos_prefix ? env.bos_token : std::string();
  const std::string eos = env.eos_token;
  const bool skip_empty = opt.skip_empty_system;
  return std::make_unique<BuiltinTemplate>("phi-3.5", [bos, eos, skip_empty](std::span<const ChatMessage> m, bool gen,
                                                                             PromptBuilder& out) {
    out.markup(bos);
    for (const ChatMessage& msg : m) {
      if (msg.role == "system" && skip_empty && msg.content.empty()) continue;
      out.markup("<|" + msg.role + "|>\n").content(msg.content).markup("<|end|>\n");
    }
    out.markup(gen ? "<|assistant|>\n" : eos);
    return Status();
  });
}

}  // namespace llmd::engine::chat
