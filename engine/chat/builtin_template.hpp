// A built-in chat template: a name and a function that writes the prompt.
// Family files (templates_*.cpp) create them; builtin_templates.cpp names them.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/chat/builtin_templates.hpp"
#include "engine/chat/prompt_builder.hpp"

namespace llmd::engine::chat {

using RenderFn = std::function<Status(std::span<const ChatMessage> messages, bool add_generation_prompt,
                                      PromptBuilder& out)>;

class BuiltinTemplate final : public ChatTemplate {
 public:
  BuiltinTemplate(std::string name, RenderFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}

  std::string name() const override { return name_; }

  Result<std::string> render(std::span<const ChatMessage> messages, bool add_generation_prompt) const override {
    auto p = render_prompt(messages, add_generation_prompt);
    if (!p) return p.take_error();
    return std::move(p->text);
  }

  Result<RenderedPrompt> render_prompt(std::span<const ChatMessage> messages,
                                       bool add_generation_prompt) const override {
    if (auto s = check_messages(name_, messages); !s) return s.take_error();
    PromptBuilder b;
    if (auto s = fn_(messages, add_generation_prompt, b); !s) return s.take_error();
    return b.take();
  }

 private:
  std::string name_;
  RenderFn fn_;
};

// Family factories (one file each).
std::unique_ptr<ChatTemplate> make_plain(const TemplateEnv& env);
std::unique_ptr<ChatTemplate> make_chatml(const std::string& name, const TemplateEnv& env, const TemplateOptions& opt,
                                          const std::string& default_system);
std::unique_ptr<ChatTemplate> make_llama2(const TemplateEnv& env);
std::unique_ptr<ChatTemplate> make_llama3(const TemplateEnv& env);
// Llama 3.1 / 3.2: `today` selects the current date instead of 26 Jul 2024.
std::unique_ptr<ChatTemplate> make_llama31(const std::string& name, const TemplateEnv& env, bool today);
std::unique_ptr<ChatTemplate> make_mistral_v1(const TemplateEnv& env);
// v3: "[INST] " and trimmed answers after a space; tekken: "[INST]" and answers as they are.
std::unique_ptr<ChatTemplate> make_mistral_v3(const std::string& name, const TemplateEnv& env, bool tekken);
std::unique_ptr<ChatTemplate> make_mistral_v7(const TemplateEnv& env);
std::unique_ptr<ChatTemplate> make_phi3(const TemplateEnv& env, const TemplateOptions& opt);
std::unique_ptr<ChatTemplate> make_phi35(const TemplateEnv& env, const TemplateOptions& opt);
std::unique_ptr<ChatTemplate> make_gemma(const TemplateEnv& env);
std::unique_ptr<ChatTemplate> make_zephyr(const TemplateEnv& env);
std::unique_ptr<ChatTemplate> make_deepseek(const TemplateEnv& env);
// V3 / R1: `think` opens answers with "<think>\n" and drops reasoning from
// earlier answers; `user_eos` closes user turns with <｜end▁of▁sentence｜>.
std::unique_ptr<ChatTemplate> make_deepseek_v3(const std::string& name, const TemplateEnv& env, bool think,
                                               bool user_eos);

}  // namespace llmd::engine::chat
