#include "engine/chat/template_recognizer.hpp"

#include <initializer_list>

namespace llmd::engine::chat {
namespace {

// The template without whitespace, with double quotes as single quotes and
// Jinja's whitespace-control dashes removed, so that code fragments can be
// matched whatever the template's spacing and quoting. (Spaces inside string
// literals are lost too; checks that depend on them use the raw text.)
std::string compact(std::string_view t) {
  std::string c;
  c.reserve(t.size());
  for (char ch : t) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') continue;
    c += ch == '"' ? '\'' : ch;
  }
  for (const char* from : {"{{-", "{%-"}) {
    for (size_t p; (p = c.find(from)) != std::string::npos;) c.erase(p + 2, 1);
  }
  for (const char* from : {"-}}", "-%}"}) {
    for (size_t p; (p = c.find(from)) != std::string::npos;) c.erase(p, 1);
  }
  return c;
}

struct Text {
  std::string_view raw;
  std::string c;
  bool has(std::string_view s) const { return c.find(s) != std::string::npos; }
  bool raw_has_any(std::initializer_list<std::string_view> list) const {
    for (std::string_view s : list) {
      if (raw.find(s) != std::string_view::npos) return true;
    }
    return false;
  }
  // The template starts by writing bos_token (after leading comments).
  bool starts_with_bos() const {
    size_t p = 0;
    while (c.compare(p, 2, "{#") == 0) {
      const size_t end = c.find("#}", p);
      if (end == std::string::npos) return false;
      p = end + 2;
    }
    return c.compare(p, 13, "{{bos_token}}") == 0 || c.compare(p, 14, "{{bos_token+'") == 0;
  }
};

Recognition found(std::string name, TemplateOptions opt = {}) { return Recognition{std::move(name), opt, {}}; }
Recognition refused(std::string why) { return Recognition{{}, {}, std::move(why)}; }

}  // namespace

Recognition recognise_template(std::string_view jinja) {
  const Text t{jinja, compact(jinja)};
  TemplateOptions opt;
  opt.bos_prefix = t.starts_with_bos();

  if (t.has("<|im_start|>")) {
    if (t.has("functioncallingAImodel")) return refused("a ChatML template with a fixed tool-calling system prompt");
    if (t.has("<|im_sep|>")) return refused("a ChatML variant with <|im_sep|> (Phi-4 style)");
    if (!t.has("<|im_end|>")) return refused("a ChatML-like template without <|im_end|>");
    if (t.has("YouareQwen,createdbyAlibabaCloud.Youareahelpfulassistant.")) return found("qwen2.5", opt);
    if (t.has("Youareahelpfulassistant.") && t.has("!='system'")) return found("qwen2", opt);
    return found("chatml", opt);
  }

  if (t.has("<|start_header_id|>") && t.has("<|end_header_id|>")) {
    if (t.has("<function=") || t.has(">>>") || t.has("functools") || t.has("Availablefunctions")) {
      return refused("a Llama 3 template for function calling (its system prompt differs from Llama 3's)");
    }
    if (t.has("CuttingKnowledgeDate")) return found(t.has("strftime_now") ? "llama-3.2" : "llama-3.1");
    return found("llama-3");
  }

  if (t.has("<start_of_turn>") && t.has("<end_of_turn>")) return found("gemma");

  if (t.has("<｜User｜>") && t.has("<｜Assistant｜>")) {
    if (t.has("is_last_user")) return refused("a DeepSeek V3 revision that places <｜Assistant｜> by the last turn");
    const bool think = t.has("<think>");
    const bool user_eos = t.has("'<｜User｜>'+message['content']+'<｜end▁of▁sentence｜>'");
    if (!think) return user_eos ? refused("a DeepSeek variant that closes user turns") : found("deepseek-v3");
    return found(user_eos ? "deepseek-r1-user-eos" : "deepseek-r1");
  }

  if (t.has("<|user|>") && t.has("<|assistant|>")) {
    if (t.has("<|end|>")) {
      if (t.has("<|system|>") || t.has("'<|'+message['role']+'|>'")) {
        opt.skip_empty_system = t.has("message['role']=='system'andmessage['content']");
        return found("phi-3.5", opt);
      }
      return found("phi-3", opt);
    }
    if (t.has("eos_token")) return found("zephyr");
    return refused("a <|user|>/<|assistant|> template of an unknown family");
  }

  if (t.has("[INST]")) {
    if (t.has("<<SYS>>")) {
      if (t.has("bos_token+'[INST]'+content.strip()+'[/INST]'")) return found("llama-2");
      return refused("a Llama 2 variant");
    }
    if (t.has("[SYSTEM_PROMPT]")) return found("mistral-v7");
    if (t.raw_has_any({"' [INST] '", "\" [INST] \""})) return refused("a Mistral variant with \" [INST] \"");
    const bool system_last = t.has("loop.last") && t.has("system_message");
    if (t.raw_has_any({"\"[INST]\"", "'[INST]'"}) && system_last) return found("mistral-v3-tekken");
    if (t.raw_has_any({"\"[INST] \"", "'[INST] '"})) {
      if (system_last) return found("mistral-v3");
      if (t.raw_has_any({"' [/INST]'", "\" [/INST]\""})) return found("mistral-v1");
    }
    return refused("an [INST] template of an unknown variant");
  }

  if (t.has("'User:'+message['content']") && t.has("'Assistant:'+message['content']+eos_token")) {
    return found("deepseek");
  }
  return refused("not a template family llmd knows");
}

}  // namespace llmd::engine::chat
