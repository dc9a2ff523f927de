// `llmd` for engine-only builds: just the engine subcommands.
#include <cstdio>
#include <cstring>

#include "engine/tools/cli.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fprintf(stderr, "usage: llmd COMMAND [ARGS]\n\nengine-only build; commands:\n");
    for (const auto& c : llmd::cli::engine_commands()) {
      std::fprintf(stderr, "  %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                   static_cast<int>(c.summary.size()), c.summary.data());
    }
    return argc < 2 ? 2 : 0;
  }
  return llmd::cli::run_engine_command(argc - 1, argv + 1);
}
