#include "engine/chat/builtin_templates.hpp"

#include <ctime>

#include "engine/chat/builtin_template.hpp"

namespace llmd::engine {
namespace {

using chat::BuiltinTemplate;

constexpr const char* kQwen2System = "You are a helpful assistant.";
constexpr const char* kQwen25System = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

struct Entry {
  const char* name;
  std::unique_ptr<ChatTemplate> (*make)(const TemplateEnv&, const TemplateOptions&);
};

const Entry kTable[] = {
    {"plain", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_plain(e); }},
    {"chatml", [](const TemplateEnv& e, const TemplateOptions& o) { return chat::make_chatml("chatml", e, o, ""); }},
    {"qwen2",
     [](const TemplateEnv& e, const TemplateOptions& o) { return chat::make_chatml("qwen2", e, o, kQwen2System); }},
    {"qwen2.5",
     [](const TemplateEnv& e, const TemplateOptions& o) { return chat::make_chatml("qwen2.5", e, o, kQwen25System); }},
    {"llama-2", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_llama2(e); }},
    {"llama-3", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_llama3(e); }},
    {"llama-3.1", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_llama31("llama-3.1", e, false); }},
    {"llama-3.2", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_llama31("llama-3.2", e, true); }},
    {"mistral-v1", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_mistral_v1(e); }},
    {"mistral-v3",
     [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_mistral_v3("mistral-v3", e, false); }},
    {"mistral-v3-tekken",
     [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_mistral_v3("mistral-v3-tekken", e, true); }},
    {"mistral-v7", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_mistral_v7(e); }},
    {"phi-3", [](const TemplateEnv& e, const TemplateOptions& o) { return chat::make_phi3(e, o); }},
    {"phi-3.5", [](const TemplateEnv& e, const TemplateOptions& o) { return chat::make_phi35(e, o); }},
    {"gemma", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_gemma(e); }},
    {"zephyr", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_zephyr(e); }},
    {"deepseek", [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_deepseek(e); }},
    {"deepseek-v3",
     [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_deepseek_v3("deepseek-v3", e, false, false); }},
    {"deepseek-r1",
     [](const TemplateEnv& e, const TemplateOptions&) { return chat::make_deepseek_v3("deepseek-r1", e, true, false); }},
    {"deepseek-r1-user-eos",
     [](const TemplateEnv& e, const TemplateOptions&) {
       return chat::make_deepseek_v3("deepseek-r1-user-eos", e, true, true);
     }},
};

// Other spellings accepted in configuration.
const std::pair<const char*, const char*> kAliases[] = {
    {"default", "plain"},        {"none", "plain"},         {"qwen", "qwen2.5"},
    {"llama2", "llama-2"},       {"llama3", "llama-3"},     {"llama3.1", "llama-3.1"},
    {"llama3.2", "llama-3.2"},   {"llama3.3", "llama-3.1"}, {"llama-3.3", "llama-3.1"},
    {"mistral", "mistral-v1"},   {"mistral-nemo", "mistral-v3-tekken"},
    {"phi3", "phi-3"},           {"phi3.5", "phi-3.5"},     {"gemma2", "gemma"},
    {"deepseek2", "deepseek"},   {"deepseek3", "deepseek-v3"}, {"deepseek-r1-distill", "deepseek-r1"},
};

std::string local_strftime(const char* fmt) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[128];
  const size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

}  // namespace

Result<std::unique_ptr<ChatTemplate>> make_builtin_chat_template(std::string_view name, TemplateEnv env,
                                                                 TemplateOptions options) {
  for (const auto& [alias, target] : kAliases) {
    if (name == alias) name = target;
  }
  if (!env.strftime_now) env.strftime_now = local_strftime;
  for (const Entry& e : kTable) {
    if (name == e.name) return e.make(env, options);
  }
  std::string known;
  for (const Entry& e : kTable) known += (known.empty() ? "" : ", ") + std::string(e.name);
  return Error(ErrorCode::chat_template_unknown,
               "chat template '" + std::string(name) + "' is not a built-in; known: " + known);
}

std::vector<std::string> builtin_chat_template_names() {
  std::vector<std::string> out;
  for (const Entry& e : kTable) out.emplace_back(e.name);
  return out;
}

}  // namespace llmd::engine
