// llmd detokenize -m FILE [--no-special]: reads token ids from stdin
// (separated by spaces, newlines or commas) and prints the decoded text.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tools/cli.hpp"

namespace llmd::cli {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: llmd detokenize -m FILE [--no-special] < ids\n"
               "  -m, --model FILE  GGUF file whose tokenizer to use\n"
               "  --no-special      leave out control tokens (BOS, <|eot_id|>, ...) instead of printing their text\n"
               "Ids are decimal, separated by whitespace or commas; the text is printed as is (no newline added).\n");
  return 2;
}

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ','; }

}  // namespace

int cmd_detokenize(int argc, char** argv) {
  std::string model;
  bool special = true;
  for (int i = 1; i < argc; ++i) {
    if ((!std::strcmp(argv[i], "-m") || !std::strcmp(argv[i], "--model")) && i + 1 < argc) model = argv[++i];
    else if (!std::strcmp(argv[i], "--no-special")) special = false;
    else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) return usage(), 0;
    else {
      std::fprintf(stderr, "llmd detokenize: unexpected argument '%s'\n", argv[i]);
      return usage();
    }
  }
  if (model.empty()) {
    std::fprintf(stderr, "llmd detokenize: -m FILE is required\n");
    return usage();
  }
  auto file = gguf::GgufFile::open(model);
  if (!file) {
    std::fprintf(stderr, "llmd detokenize: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tok = engine::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "llmd detokenize: %s\n", tok.error().message.c_str());
    return 1;
  }

  std::string input;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) input.append(buf, n);
  if (std::ferror(stdin)) {
    std::fprintf(stderr, "llmd detokenize: cannot read standard input\n");
    return 1;
  }

  std::vector<int32_t> ids;
  size_t pos = 0, index = 0;
  while (pos < input.size()) {
    if (is_separator(input[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < input.size() && !is_separator(input[end])) ++end;
    const std::string word = input.substr(pos, end - pos);
    char* stop = nullptr;
    errno = 0;
    const long long v = std::strtoll(word.c_str(), &stop, 10);
    if (word.empty() || *stop != '\0' || errno == ERANGE || !(word[0] == '-' || (word[0] >= '0' && word[0] <= '9'))) {
      std::fprintf(stderr, "llmd detokenize: id #%zu '%.40s' is not a decimal number\n", index, word.c_str());
      return 1;
    }
    if (v < 0 || v >= (*tok)->n_vocab()) {
      std::fprintf(stderr, "llmd detokenize: id #%zu (%lld) is outside the vocabulary of %d tokens\n", index, v,
                   (*tok)->n_vocab());
      return 1;
    }
    ids.push_back(static_cast<int32_t>(v));
    ++index;
    pos = end;
  }

  engine::DecodeOptions opt;
  opt.render_special = special;
  const std::string text = (*tok)->decode(ids, opt);
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "llmd detokenize: cannot write standard output\n");
    return 1;
  }
  return 0;
}

}  // namespace llmd::cli
