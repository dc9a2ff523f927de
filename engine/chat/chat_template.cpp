#include "engine/chat/chat_template.hpp"

#include "engine/chat/builtin_templates.hpp"
#include "engine/chat/template_recognizer.hpp"
#include "engine/core/log.hpp"

namespace llmd::engine {
namespace {

std::string token_text(const gguf::GgufFile& f, const char* id_key) {
  const auto id = f.get_i64(id_key);
  const gguf::GgufValue* toks = f.find("tokenizer.ggml.tokens");
  const std::vector<std::string>* texts = toks ? toks->as_string_array() : nullptr;
  if (!id || !texts || *id < 0 || static_cast<uint64_t>(*id) >= texts->size()) return {};
  return (*texts)[static_cast<size_t>(*id)];
}

// First line of a template, shortened, for messages.
std::string excerpt(std::string_view t) {
  std::string s(t.substr(0, t.find('\n')));
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

Result<std::unique_ptr<ChatTemplate>> select_chat_template(const gguf::GgufFile& file, std::string_view override_name) {
  TemplateEnv env;
  env.bos_token = token_text(file, "tokenizer.ggml.bos_token_id");
  env.eos_token = token_text(file, "tokenizer.ggml.eos_token_id");
  const std::string model = file.get_string("tokenizer.ggml.model").value_or("");
  env.add_bos = file.get_bool("tokenizer.ggml.add_bos_token").value_or(model == "llama");
  if (env.bos_token.empty()) env.add_bos = false;

  if (!override_name.empty()) {
    auto t = make_builtin_chat_template(override_name, env);
    if (!t) {
      return Error(t.error().code, t.error().message + " (set by " + std::string(kChatTemplateConfigKey) + ")");
    }
    log::infof("chat template: %s: '%s' as configured", file.name().c_str(), (*t)->name().c_str());
    return t;
  }

  const std::string jinja = file.get_string("tokenizer.chat_template").value_or("");
  if (jinja.find_first_not_of(" \t\r\n") == std::string::npos) {
    log::noticef("chat template: %s has no tokenizer.chat_template; using the plain default (BOS%s, then the message "
                 "contents separated by blank lines); set %s to choose another",
                 file.name().c_str(), env.add_bos ? "" : " not added", std::string(kChatTemplateConfigKey).c_str());
    return make_builtin_chat_template("plain", env);
  }
  const chat::Recognition r = chat::recognise_template(jinja);
  if (r.name.empty()) {
    std::string names;
    for (const auto& n : builtin_chat_template_names()) names += (names.empty() ? "" : ", ") + n;
    return Error("chat_template_unrecognised",
                 "GGUF " + file.name() + ": tokenizer.chat_template is " + r.why + " (begins \"" + excerpt(jinja) +
                     "\"), which no built-in template reproduces; set " + std::string(kChatTemplateConfigKey) +
                     " for this model to one of: " + names);
  }
  auto t = make_builtin_chat_template(r.name, env, r.options);
  if (t) log::infof("chat template: %s: recognised as '%s'", file.name().c_str(), r.name.c_str());
  return t;
}

}  // namespace llmd::engine
