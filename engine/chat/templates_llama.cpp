// Meta's Llama chat formats: Llama 2 ([INST] with a <<SYS>> block in the
// first user turn), Llama 3 (header tokens around each role), and Llama
// 3.1/3.2 (a system header that always carries the knowledge and current dates).
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_llama2(const TemplateEnv& env) {
  const std::string bos = env.bos_token, eos = env.eos_token;
  return std::make_unique<BuiltinTemplate>("llama-2", [bos, eos](std::span<const ChatMessage> m, bool,
                                                                 PromptBuilder& out) {
    const bool has_system = m[0].role == "system";
    const std::span<const ChatMessage> loop = has_system ? m.subspan(1) : m;
    for (size_t i = 0; i < loop.size(); ++i) {
      const ChatMessage& msg = loop[i];
      if ((msg.role == "user") != (i % 2 == 0)) {
        return Status(template_error("llama-2", "Conversation roles must alternate user/assistant/user/assistant/..."));
      }
      // The first turn carries the system block; strip() applies to the whole
      // turn. "<<SYS>>" is plain text, so the turn is content as a whole.
      const std::string turn =
          i == 0 && has_system ? "<<SYS>>\n" + m[0].content + "\n<</SYS>>\n\n" + msg.content : msg.content;
      const std::string_view stripped = py_strip(turn);
      if (msg.role == "user") {
        out.markup(bos + "[INST] ").content(stripped).markup(" [/INST]");
      } else if (msg.role == "assistant") {
        out.markup(" ").content(stripped).markup(" " + eos);
      }
    }
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_llama3(const TemplateEnv& env) {
  const std::string bos = env.bos_token;
  return std::make_unique<BuiltinTemplate>("llama-3", [bos](std::span<const ChatMessage> m, bool gen,
                                                            PromptBuilder& out) {
    for (size_t i = 0; i < m.size(); ++i) {
      if (i == 0) out.markup(bos);
      out.markup("<|start_header_id|>" + m[i].role + "<|end_header_id|>\n\n")
          .content(py_strip(m[i].content))
          .markup("<|eot_id|>");
    }
    if (gen) out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_llama31(const std::string& name, const TemplateEnv& env, bool today) {
  const std::string bos = env.bos_token;
  auto strftime_now = env.strftime_now;
  return std::make_unique<BuiltinTemplate>(name, [bos, today, strftime_now](std::span<const ChatMessage> m, bool gen,
                                                                          PromptBuilder& out) {
    const std::string date = today && strftime_now ? strftime_now("%d %b %Y") : std::string("26 Jul 2024");
    const bool has_system = m[0].role == "system";
    out.markup(bos + "<|start_header_id|>system<|end_header_id|>\n\n");
    out.markup("Cutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n");
    if (has_system) out.content(py_strip(m[0].content));
    out.markup("<|eot_id|>");
    for (size_t i = has_system ? 1 : 0; i < m.size(); ++i) {
      out.markup("<|start_header_id|>" + m[i].role + "<|end_header_id|>\n\n")
          .content(py_strip(m[i].content))
          .markup("<|eot_id|>");
    }
    if (gen) out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
    return Status();
  });
}

}  // namespace llmd::engine::chat
