// llmd-bench-tokenizer: single-thread tokenization throughput of every
// vocabulary in a folder of GGUF files, on generated English-like text (or a
// file given with --text). Prints one table row per vocabulary.
//
//   llmd-bench-tokenizer [--vocab-dir DIR] [--text FILE] [--bytes N] [--runs K]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "english_text.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path default_vocab_dir() {
  if (const char* env = std::getenv("LLMD_SHARED_DIR"); env && *env) return fs::path(env) / "vocab";
  return fs::path(LLMD_SHARED_DIR_DEFAULT) / "vocab";
}

int usage() {
  std::fprintf(stderr,
               "usage: llmd-bench-tokenizer [--vocab-dir DIR] [--text FILE] [--bytes N] [--runs K]\n"
               "  --vocab-dir DIR  folder of vocabulary GGUF files (default: the reference vocab folder)\n"
               "  --text FILE      UTF-8 text to tokenize (default: generated English-like text)\n"
               "  --bytes N        size of the generated text (default 1048576)\n"
               "  --runs K         timed runs per vocabulary; the best is reported (default 5)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = default_vocab_dir();
  std::string text_file;
  size_t n_bytes = 1 << 20;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--vocab-dir")) dir = argv[++i];
    else if (arg("--text")) text_file = argv[++i];
    else if (arg("--bytes")) n_bytes = std::strtoull(argv[++i], nullptr, 10);
    else if (arg("--runs")) runs = std::max(1, std::atoi(argv[++i]));
    else return usage();
  }

  std::string text;
  if (!text_file.empty()) {
    std::ifstream in(text_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "llmd-bench-tokenizer: cannot read %s\n", text_file.c_str());
      return 1;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else {
    text = llmd::bench::english_text(n_bytes);
  }

  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".gguf") files.push_back(e.path());
  }
  if (files.empty()) {
    std::fprintf(stderr, "llmd-bench-tokenizer: no .gguf files in %s\n", dir.string().c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());

  std::printf("text: %s, %zu bytes; best of %d single-thread runs per vocabulary\n\n",
              text_file.empty() ? "generated English" : "file", text.size(), runs);
  std::printf("%-34s %-6s %-15s %8s %10s %10s %11s\n", "vocabulary", "model", "pre", "load ms", "tokens",
              "bytes/tok", "encode MB/s");
  for (const auto& path : files) {
    const auto t_load = Clock::now();
    auto file = llmd::gguf::GgufFile::open(path.string());
    if (!file) {
      std::printf("%-34s %s\n", path.filename().string().c_str(), file.error().message.c_str());
      continue;
    }
    auto tok = llmd::engine::Tokenizer::from_gguf(**file);
    if (!tok) {
      std::printf("%-34s %s\n", path.filename().string().c_str(), tok.error().message.c_str());
      continue;
    }
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_load).count();
    double best = 1e30;
    size_t n_tokens = 0;
    for (int r = 0; r < runs; ++r) {
      const auto t0 = Clock::now();
      auto ids = (*tok)->encode(text, false, false);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      best = std::min(best, s);
      n_tokens = ids.size();
    }
    const double mbs = static_cast<double>(text.size()) / 1e6 / best;
    std::printf("%-34s %-6s %-15s %8.0f %10zu %10.2f %11.1f\n", path.filename().string().c_str(),
                (*tok)->model().c_str(), (*tok)->pre_tokenizer().empty() ? "-" : (*tok)->pre_tokenizer().c_str(),
                load_ms, n_tokens, n_tokens ? static_cast<double>(text.size()) / static_cast<double>(n_tokens) : 0.0,
                mbs);
  }
  return 0;
}
