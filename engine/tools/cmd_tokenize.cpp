// llmd tokenize -m FILE [--bos] [--special]: reads UTF-8 text from stdin (all
// of it, newlines included) and prints its token ids on one line.
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/utf8.hpp"
#include "engine/tools/cli.hpp"

namespace llmd::cli {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: llmd tokenize -m FILE [--bos] [--special] < text\n"
               "  -m, --model FILE  GGUF file whose tokenizer to use\n"
               "  --bos             add the BOS/EOS tokens the model's metadata asks for\n"
               "                    (tokenizer.ggml.add_bos_token / add_eos_token)\n"
               "  --special         read special-token text such as <|eot_id|> as those tokens\n"
               "With neither flag no BOS/EOS is added and special-token text is plain text.\n");
  return 2;
}

bool read_stdin(std::string* out) {
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) out->append(buf, n);
  return !std::ferror(stdin);
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  std::string model;
  bool bos = false, special = false;
  for (int i = 1; i < argc; ++i) {
    if ((!std::strcmp(argv[i], "-m") || !std::strcmp(argv[i], "--model")) && i + 1 < argc) model = argv[++i];
    else if (!std::strcmp(argv[i], "--bos")) bos = true;
    else if (!std::strcmp(argv[i], "--special")) special = true;
    else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) return usage(), 0;
    else {
      std::fprintf(stderr, "llmd tokenize: unexpected argument '%s'\n", argv[i]);
      return usage();
    }
  }
  if (model.empty()) {
    std::fprintf(stderr, "llmd tokenize: -m FILE is required\n");
    return usage();
  }
  auto file = gguf::GgufFile::open(model);
  if (!file) {
    std::fprintf(stderr, "llmd tokenize: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tok = engine::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "llmd tokenize: %s\n", tok.error().message.c_str());
    return 1;
  }
  std::string text;
  if (!read_stdin(&text)) {
    std::fprintf(stderr, "llmd tokenize: cannot read standard input\n");
    return 1;
  }
  size_t bad = 0;
  if (!engine::utf8::is_valid(text, &bad)) {
    std::fprintf(stderr, "llmd tokenize: input is not valid UTF-8 (ill-formed byte 0x%02X at offset %zu)\n",
                 static_cast<unsigned>(static_cast<unsigned char>(text[bad])), bad);
    return 1;
  }
  const auto ids = (*tok)->encode(text, bos, special);
  std::string line;
  line.reserve(ids.size() * 7);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "llmd tokenize: cannot write standard output\n");
    return 1;
  }
  return 0;
}

}  // namespace llmd::cli
