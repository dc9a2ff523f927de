// llmd gguf synth: writes a deterministic random-weight model of a real shape.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/synth/synth_model.hpp"
#include "engine/tools/cli.hpp"

namespace llmd::cli {
namespace {

void usage() {
  std::fprintf(stderr,
               "usage: llmd gguf synth --shape NAME --type TYPE -o FILE [--seed N] [--threads K]\n"
               "                       [--pooling none|mean|cls|last]\n"
               "  TYPE: f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m\n"
               "  --pooling: write an embedding model with this pooling (default: the shape's own)\n"
               "  shapes:");
  for (const auto& s : engine::synth::synth_shapes()) std::fprintf(stderr, " %s", s.name.c_str());
  std::fprintf(stderr, "\n");
}

}  // namespace

int cmd_gguf_synth(int argc, char** argv) {
  std::string shape_name, out;
  engine::synth::SynthOptions opts;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "--shape" && (v = value())) {
      shape_name = v;
    } else if (a == "--type" && (v = value())) {
      opts.type = v;
    } else if ((a == "-o" || a == "--output") && (v = value())) {
      out = v;
    } else if (a == "--seed" && (v = value())) {
      opts.seed = std::strtoull(v, nullptr, 10);
    } else if (a == "--pooling" && (v = value())) {
      const std::string p = v;
      opts.pooling = p == "none" ? 0 : p == "mean" ? 1 : p == "cls" ? 2 : p == "last" ? 3 : -2;
      if (opts.pooling == -2) {
        std::fprintf(stderr, "llmd gguf synth: bad --pooling '%s' (none, mean, cls, last)\n", v);
        return 2;
      }
    } else if (a == "--threads" && (v = value())) {
      opts.threads = std::atoi(v);
    } else {
      std::fprintf(stderr, "llmd gguf synth: bad argument '%s'\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (shape_name.empty() || out.empty()) {
    usage();
    return 2;
  }
  const engine::synth::SynthShape* shape = engine::synth::find_synth_shape(shape_name);
  if (!shape) {
    std::fprintf(stderr, "llmd gguf synth: unknown shape '%s'\n", shape_name.c_str());
    usage();
    return 2;
  }
  if (Status st = engine::synth::write_synth_model(*shape, opts, out); !st) {
    std::fprintf(stderr, "llmd gguf synth: %s\n", st.error().message.c_str());
    return 1;
  }
  std::printf("wrote %s (%s, %s)\n", out.c_str(), shape_name.c_str(), opts.type.c_str());
  return 0;
}

}  // namespace llmd::cli
