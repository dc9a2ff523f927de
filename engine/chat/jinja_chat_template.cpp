#include "engine/chat/jinja_chat_template.hpp"

#include <ctime>

#include "engine/chat/prompt_builder.hpp"

namespace llmd::engine {

jinja::Value chat_messages_value(std::span<const ChatMessage> messages) {
  jinja::List list;
  for (const ChatMessage& m : messages) {
    auto d = jinja::Dict::make();
    d->set("role", jinja::Value::tainted(m.role));
    d->set("content", jinja::Value::tainted(m.content));
    list.push_back(jinja::Value(d));
  }
  return jinja::Value(std::move(list));
}

Result<std::unique_ptr<JinjaChatTemplate>> JinjaChatTemplate::create(std::string_view source, std::string label,
                                                                     TemplateEnv env, jinja::Limits limits) {
  auto t = jinja::Template::parse(source, std::move(label));
  if (!t) return t.take_error();
  return std::unique_ptr<JinjaChatTemplate>(
      new JinjaChatTemplate(std::move(*t), std::move(env), limits, tool_call_format_of_template(source)));
}

Result<RenderedPrompt> JinjaChatTemplate::render_values(const jinja::Value& messages, const jinja::Value& tools,
                                                        bool add_generation_prompt) const {
  jinja::Dict vars;
  vars.set("messages", messages);
  if (!tools.is_undefined()) vars.set("tools", tools);
  vars.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  vars.set("bos_token", jinja::Value(env_.bos_token));
  vars.set("eos_token", jinja::Value(env_.eos_token));
  auto clock = env_.strftime_now;
  auto strftime_now = [clock](const std::string& fmt) -> std::string {
    if (clock) return clock(fmt.c_str());
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[256];
    return std::string(buf, std::strftime(buf, sizeof buf, fmt.c_str(), &tm));
  };
  auto out = template_.render(vars, limits_, strftime_now);
  if (!out) return Error(out.error().code, "chat " + out.error().message);
  return RenderedPrompt{std::move(out->text), std::move(out->taint.ranges)};
}

Result<RenderedPrompt> JinjaChatTemplate::render_prompt(std::span<const ChatMessage> messages,
                                                        bool add_generation_prompt) const {
  if (messages.empty()) return Error(ErrorCode::chat_template_error, "the conversation has no messages");
  auto p = render_values(chat_messages_value(messages), jinja::Value(), add_generation_prompt);
  // Templates without a system role refuse a system message (Gemma) or drop
  // it (Mistral v1); as the built-ins do, it is then folded into the first
  // user message instead of failing or being lost.
  bool fold = false;
  if (messages[0].role == "system") {
    const std::string_view system = chat::py_strip(messages[0].content);
    fold = p ? !system.empty() && p->text.find(system) == std::string::npos
             : p.error().code == ErrorCode::chat_template_error;
  }
  if (fold) {
    const std::vector<ChatMessage> folded = chat::fold_system_into_first_user(messages);
    auto f = render_values(chat_messages_value(folded), jinja::Value(), add_generation_prompt);
    if (f) return f;
  }
  return p;
}

Result<std::string> JinjaChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  auto p = render_prompt(messages, add_generation_prompt);
  if (!p) return p.take_error();
  return std::move(p->text);
}

}  // namespace llmd::engine
