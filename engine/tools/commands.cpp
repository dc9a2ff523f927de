#include <cstdio>

#include "engine/tools/cli.hpp"

namespace llmd::cli {
namespace {

// One line per subcommand; keep sorted by name.
const Command kCommands[] = {
    {"chat-template", "render a Jinja chat template (--template FILE --messages FILE.json [--tools FILE.json])",
     cmd_chat_template},
    {"detokenize", "read token ids from stdin and print the text they decode to (-m FILE)", cmd_detokenize},
    {"generate", "continue a prompt with a model on the CPU (-m FILE -p TEXT -n N [--temp T] [--ids])", cmd_generate},
    {"gguf", "print a GGUF file's metadata and tensor table; 'gguf synth' writes a random-weight model", cmd_gguf},
    {"tokenize", "print the token ids of the text on stdin (-m FILE [--bos] [--special])", cmd_tokenize},
};

}  // namespace

std::span<const Command> engine_commands() { return kCommands; }

int run_engine_command(int argc, char** argv) {
  if (argc < 1) return 2;
  std::string_view name = argv[0];
  for (const auto& c : kCommands) {
    if (c.name == name) return c.run(argc, argv);
  }
  std::fprintf(stderr, "llmd: unknown command '%.*s'\n", static_cast<int>(name.size()), name.data());
  return 2;
}

}  // namespace llmd::cli
