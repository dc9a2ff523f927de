// llmd chat-template --template FILE.jinja --messages FILE.json [--tools FILE.json]
//   [--no-generation-prompt] [--bos TEXT] [--eos TEXT]
// Renders a chat template with the Jinja interpreter the server uses and
// prints the prompt exactly (no newline added).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/chat/jinja_chat_template.hpp"
#include "engine/jinja/json.hpp"
#include "engine/tools/cli.hpp"

namespace llmd::cli {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: llmd chat-template --template FILE.jinja --messages FILE.json [--tools FILE.json]\n"
               "                          [--no-generation-prompt] [--bos TEXT] [--eos TEXT]\n"
               "  --template FILE         a Jinja chat template (as in tokenizer.chat_template)\n"
               "  --messages FILE         JSON array of messages ({\"role\", \"content\", ...})\n"
               "  --tools FILE            JSON array of tools (OpenAI function tools)\n"
               "  --no-generation-prompt  render without add_generation_prompt\n"
               "  --bos TEXT, --eos TEXT  the bos_token / eos_token texts (default empty)\n");
  return 2;
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream s;
  s << in.rdbuf();
  *out = s.str();
  return !in.bad();
}

}  // namespace

int cmd_chat_template(int argc, char** argv) {
  std::string template_path, messages_path, tools_path;
  engine::TemplateEnv env;
  bool generation_prompt = true;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--template") && has_value) template_path = argv[++i];
    else if (!std::strcmp(argv[i], "--messages") && has_value) messages_path = argv[++i];
    else if (!std::strcmp(argv[i], "--tools") && has_value) tools_path = argv[++i];
    else if (!std::strcmp(argv[i], "--bos") && has_value) env.bos_token = argv[++i];
    else if (!std::strcmp(argv[i], "--eos") && has_value) env.eos_token = argv[++i];
    else if (!std::strcmp(argv[i], "--no-generation-prompt")) generation_prompt = false;
    else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) return usage(), 0;
    else {
      std::fprintf(stderr, "llmd chat-template: unexpected argument '%s'\n", argv[i]);
      return usage();
    }
  }
  if (template_path.empty() || messages_path.empty()) {
    std::fprintf(stderr, "llmd chat-template: --template and --messages are required\n");
    return usage();
  }
  std::string source, messages_text, tools_text;
  if (!read_file(template_path, &source)) {
    std::fprintf(stderr, "llmd chat-template: cannot read %s\n", template_path.c_str());
    return 1;
  }
  if (!read_file(messages_path, &messages_text)) {
    std::fprintf(stderr, "llmd chat-template: cannot read %s\n", messages_path.c_str());
    return 1;
  }
  if (!tools_path.empty() && !read_file(tools_path, &tools_text)) {
    std::fprintf(stderr, "llmd chat-template: cannot read %s\n", tools_path.c_str());
    return 1;
  }
  auto messages = engine::jinja::parse_json(messages_text, /*taint=*/true);
  if (!messages || !messages->is_list()) {
    std::fprintf(stderr, "llmd chat-template: %s: %s\n", messages_path.c_str(),
                 messages ? "not a JSON array" : messages.error().message.c_str());
    return 1;
  }
  engine::jinja::Value tools;
  if (!tools_path.empty()) {
    auto t = engine::jinja::parse_json(tools_text, /*taint=*/true);
    if (!t || !t->is_list()) {
      std::fprintf(stderr, "llmd chat-template: %s: %s\n", tools_path.c_str(),
                   t ? "not a JSON array" : t.error().message.c_str());
      return 1;
    }
    tools = std::move(*t);
  }
  auto tmpl = engine::JinjaChatTemplate::create(source, template_path, env);
  if (!tmpl) {
    std::fprintf(stderr, "llmd chat-template: %s\n", tmpl.error().message.c_str());
    return 1;
  }
  auto out = (*tmpl)->render_values(*messages, tools, generation_prompt);
  if (!out) {
    std::fprintf(stderr, "llmd chat-template: %s (%s)\n", out.error().message.c_str(),
                 std::string(out.error().code_name()).c_str());
    return 1;
  }
  std::fwrite(out->text.data(), 1, out->text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace llmd::cli
