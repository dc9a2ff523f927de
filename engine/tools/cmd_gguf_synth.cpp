// llmd gguf synth: placeholder until the synthetic-model writer lands.
#include <cstdio>

#include "engine/tools/cli.hpp"

namespace llmd::cli {

int cmd_gguf_synth(int, char**) {
  std::fprintf(stderr, "llmd gguf synth: not available yet\n");
  return 1;
}

}  // namespace llmd::cli
