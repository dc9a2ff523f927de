#include "engine/chat/chat_template.hpp"

#include "engine/chat/builtin_templates.hpp"
#include "engine/chat/jinja_chat_template.hpp"
#include "engine/chat/template_recognizer.hpp"
#include "base/log.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"

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

TemplateEnv template_env(const gguf::GgufFile& file) {
  TemplateEnv env;
  env.bos_token = token_text(file, "tokenizer.ggml.bos_token_id");
  env.eos_token = token_text(file, "tokenizer.ggml.eos_token_id");
  // Whether the tokenizer adds BOS to plain text: the file's flag, else the
  // default of its tokenizer kind and pre-tokenizer family (as Tokenizer does).
  const std::string model = file.get_string("tokenizer.ggml.model").value_or("");
  bool default_bos = model == "llama";
  if (model == "gpt2") {
    const PreTokenizerRules* rules = find_pre_tokenizer(file.get_string("tokenizer.ggml.pre").value_or(""));
    if (rules && rules->add_bos) default_bos = *rules->add_bos;
  }
  env.add_bos = file.get_bool("tokenizer.ggml.add_bos_token").value_or(default_bos);
  if (env.bos_token.empty()) env.add_bos = false;
  return env;
}

// A Jinja template recognised as a built-in; `what` names its source in messages.
Result<std::unique_ptr<ChatTemplate>> recognised(const gguf::GgufFile& file, const TemplateEnv& env,
                                                 std::string_view jinja, const std::string& what) {
  const chat::Recognition r = chat::recognise_template(jinja);
  if (r.name.empty()) {
    std::string names;
    for (const auto& n : builtin_chat_template_names()) names += (names.empty() ? "" : ", ") + n;
    return Error(ErrorCode::chat_template_unrecognised,
                 what + " is " + r.why + " (begins \"" + excerpt(jinja) +
                     "\"), which no built-in template reproduces; set " + std::string(kChatTemplateConfigKey) +
                     " for this model to one of: " + names);
  }
  auto t = make_builtin_chat_template(r.name, env, r.options);
  if (t) log::infof("chat template: %s: %s recognised as '%s'", file.name().c_str(), what.c_str(), r.name.c_str());
  return t;
}

// The template text rendered by the Jinja interpreter; when it does not
// parse, the built-in it is recognised as (with a warning naming it).
Result<std::unique_ptr<ChatTemplate>> from_jinja(const gguf::GgufFile& file, const TemplateEnv& env,
                                                 std::string_view jinja, const std::string& what) {
  auto j = JinjaChatTemplate::create(jinja, what, env);
  if (j) {
    log::infof("chat template: %s: %s rendered by the Jinja interpreter", file.name().c_str(), what.c_str());
    return std::unique_ptr<ChatTemplate>(std::move(*j));
  }
  log::warnf("chat template: %s: %s; falling back to a built-in template", file.name().c_str(),
             j.error().message.c_str());
  auto r = recognised(file, env, jinja, what);
  if (!r) return Error(r.error().code, j.error().message + "; " + r.error().message);
  return r;
}

}  // namespace

Result<std::unique_ptr<ChatTemplate>> select_chat_template(const gguf::GgufFile& file, std::string_view override_name) {
  const TemplateEnv env = template_env(file);
  if (!override_name.empty()) {
    auto t = make_builtin_chat_template(override_name, env);
    if (!t) {
      return Error(t.error().code, t.error().message + " (set by " + std::string(kChatTemplateConfigKey) + ")");
    }
    log::infof("chat template: %s: '%s' as configured", file.name().c_str(), (*t)->name().c_str());
    return t;
  }

  const gguf::GgufValue* v = file.find("tokenizer.chat_template");
  if (v && !v->as_string()) {
    log::warnf("chat template: %s: tokenizer.chat_template is not a string; ignored", file.name().c_str());
  }
  const std::string jinja = v && v->as_string() ? *v->as_string() : std::string();
  if (jinja.find_first_not_of(" \t\r\n") == std::string::npos) {
    log::noticef("chat template: %s has no tokenizer.chat_template; using the plain default (BOS%s, then the message "
                 "contents separated by blank lines); set %s to choose another",
                 file.name().c_str(), env.add_bos ? "" : " not added", std::string(kChatTemplateConfigKey).c_str());
    return make_builtin_chat_template("plain", env);
  }
  return from_jinja(file, env, jinja, "GGUF " + file.name() + ": tokenizer.chat_template");
}

Result<std::unique_ptr<ChatTemplate>> select_chat_template_from_jinja(const gguf::GgufFile& file, std::string_view jinja,
                                                                     std::string_view source) {
  return from_jinja(file, template_env(file), jinja, std::string(source));
}

}  // namespace llmd::engine
