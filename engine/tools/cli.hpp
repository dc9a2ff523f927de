// Engine subcommands of the `llmd` binary (gguf, tokenize, detokenize,
// generate, ...). The daemon's main handles serve/check-config/bootstrap-admin
// and hands every other subcommand to this table, so an engine-only build
// (no server libraries) still has the same commands.
#pragma once

#include <span>
#include <string_view>

namespace llmd::cli {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(int argc, char** argv);  // argv[0] is the subcommand name
};

std::span<const Command> engine_commands();

// Runs the engine subcommand argv[0]; returns 2 with a message if unknown.
int run_engine_command(int argc, char** argv);

// Individual commands (one file each).
int cmd_chat_template(int argc, char** argv);  // llmd chat-template --template F --messages F [...]
int cmd_generate(int argc, char** argv);    // llmd generate -m FILE -p TEXT -n N [...]
int cmd_gguf(int argc, char** argv);        // llmd gguf FILE | llmd gguf synth ...
int cmd_gguf_synth(int argc, char** argv);  // llmd gguf synth --shape S --type T -o FILE
int cmd_tokenize(int argc, char** argv);    // llmd tokenize -m FILE [--bos] [--special] < text
int cmd_detokenize(int argc, char** argv);  // llmd detokenize -m FILE [--no-special] < ids

}  // namespace llmd::cli
