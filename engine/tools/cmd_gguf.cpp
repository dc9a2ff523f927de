// llmd gguf FILE: prints metadata and the tensor table of a GGUF file.
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tools/cli.hpp"

namespace llmd::cli {

int cmd_gguf(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "synth") == 0) return cmd_gguf_synth(argc - 1, argv + 1);
  if (argc != 2 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: llmd gguf FILE\n"
                 "       llmd gguf synth --shape NAME --type TYPE -o FILE\n");
    return 2;
  }
  auto file = gguf::GgufFile::open(argv[1]);
  if (!file) {
    std::fprintf(stderr, "llmd gguf: %s\n", file.error().message.c_str());
    return 1;
  }
  const gguf::GgufFile& f = **file;
  std::printf("file:       %s\n", argv[1]);
  std::printf("version:    %u\n", f.version());
  std::printf("alignment:  %u\n", f.alignment());
  std::printf("data at:    %llu\n", static_cast<unsigned long long>(f.data_offset()));
  std::printf("metadata:   %zu entries\n", f.metadata().size());
  for (const auto& kv : f.metadata()) {
    std::printf("  %-44s %-7s %s\n", kv.key.c_str(), std::string(gguf::gguf_type_name(kv.value.type())).c_str(),
                kv.value.to_display_string().c_str());
  }
  std::printf("tensors:    %zu\n", f.tensors().size());
  uint64_t total = 0;
  for (const auto& t : f.tensors()) {
    std::string shape;
    for (size_t i = 0; i < t.dims.size(); ++i) shape += (i ? " x " : "") + std::to_string(t.dims[i]);
    std::printf("  %-40s %-8s %-24s %12llu bytes @ %llu\n", t.name.c_str(),
                std::string(gguf::ggml_type_name(t.type)).c_str(), shape.c_str(),
                static_cast<unsigned long long>(t.n_bytes), static_cast<unsigned long long>(t.offset));
    total += t.n_bytes;
  }
  std::printf("tensor bytes: %llu\n", static_cast<unsigned long long>(total));
  return 0;
}

}  // namespace llmd::cli
