// DeepSeek formats. DeepSeek LLM / V2: "User: ...\n\nAssistant: ...<eos>".
// V3 and the R1 family: BOS, the (last) system message, then
// <｜User｜>... and <｜Assistant｜>...<｜end▁of▁sentence｜>; R1 opens answers with
// "<think>\n" and keeps only the text after the last </think> of earlier answers.
#include "engine/chat/builtin_template.hpp"

namespace llmd::engine::chat {

std::unique_ptr<ChatTemplate> make_deepseek(const TemplateEnv& env) {
  const std::string bos = env.bos_token, eos = env.eos_token;
  return std::make_unique<BuiltinTemplate>("deepseek", [bos, eos](std::span<const ChatMessage> m, bool gen,
                                                                  PromptBuilder& out) {
    out.markup(bos);
    for (const ChatMessage& msg : m) {
      if (msg.role == "user") out.markup("User: ").content(msg.content).markup("\n\n");
      else if (msg.role == "assistant") out.markup("Assistant: ").content(msg.content).markup(eos);
      else out.content(msg.content).markup("\n\n");
    }
    if (gen) out.markup("Assistant:");
    return Status();
  });
}

std::unique_ptr<ChatTemplate> make_deepseek_v3(const std::string& name, const TemplateEnv& env, bool think,
                                               bool user_eos) {
  const std::string bos = env.bos_token;
  return std::make_unique<BuiltinTemplate>(name, [bos, think, user_eos](std::span<const ChatMessage> m, bool gen,
                                                                        PromptBuilder& out) {
    constexpr std::string_view kEnd = "<｜end▁of▁sentence｜>";
    std::string_view system;
    for (const ChatMessage& msg : m) {
      if (msg.role == "system") system = msg.content;  // the last one counts
    }
    out.markup(bos).content(system);
    for (const ChatMessage& msg : m) {
      if (msg.role == "user") {
        out.markup("<｜User｜>").content(msg.content);
        if (user_eos) out.markup(kEnd);
      } else if (msg.role == "assistant") {
        std::string_view answer = msg.content;
        if (think) {
          const size_t at = answer.rfind("</think>");
          if (at != std::string_view::npos) answer.remove_prefix(at + 8);
        }
        out.markup("<｜Assistant｜>").content(answer).markup(kEnd);
      }
    }
    if (gen) out.markup(think ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>");
    return Status();
  });
}

}  // namespace llmd::engine::chat
