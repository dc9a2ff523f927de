// A chat template rendered from the model's own Jinja text by the sandboxed
// interpreter (engine/jinja), with the variables Hugging Face's
// apply_chat_template passes: messages, tools (when given),
// add_generation_prompt, bos_token, eos_token, and strftime_now().
//
// The prompt is complete as rendered (see chat_template.hpp on BOS). Every
// string that came from the request (message fields, tools) is marked as
// content, so control-token text typed by a user stays plain text.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/chat/builtin_templates.hpp"
#include "engine/chat/chat_template.hpp"
#include "engine/chat/tool_calls.hpp"
#include "engine/jinja/template.hpp"

namespace llmd::engine {

class JinjaChatTemplate final : public ChatTemplate {
 public:
  // Parses `source`; `label` names it in every message (a GGUF key or a file).
  static Result<std::unique_ptr<JinjaChatTemplate>> create(std::string_view source, std::string label, TemplateEnv env,
                                                           jinja::Limits limits = {});

  std::string name() const override { return "jinja"; }
  const std::string& label() const { return template_.name(); }
  // How the model writes tool calls, as its template teaches it.
  ToolCallFormat tool_format() const { return tool_format_; }

  // A system message the template refuses or drops is folded into the first
  // user message (system + "\n\n" + user), as the built-ins do.
  Result<std::string> render(std::span<const ChatMessage> messages, bool add_generation_prompt) const override;
  Result<RenderedPrompt> render_prompt(std::span<const ChatMessage> messages,
                                       bool add_generation_prompt) const override;

  // The general form: `messages` a list of message dicts and `tools` a list
  // of tool dicts (or Undefined when the request has none), as JSON values.
  Result<RenderedPrompt> render_values(const jinja::Value& messages, const jinja::Value& tools,
                                       bool add_generation_prompt) const;

 private:
  JinjaChatTemplate(jinja::Template t, TemplateEnv env, jinja::Limits limits, ToolCallFormat format)
      : template_(std::move(t)), env_(std::move(env)), limits_(limits), tool_format_(format) {}

  jinja::Template template_;
  TemplateEnv env_;
  jinja::Limits limits_;
  ToolCallFormat tool_format_;
};

// The messages as the template sees them: [{"role": ..., "content": ...}],
// every string tainted (from the request).
jinja::Value chat_messages_value(std::span<const ChatMessage> messages);

}  // namespace llmd::engine
