// Microseconds per token that structured output adds to a decode step: the
// token mask (GrammarConstraint::allowed) plus advancing the grammar by the
// chosen token, while a fixed JSON document is written token by token.
// Prints a table per vocabulary.
//
//   llmd-bench-structured [--vocab FILE.gguf]... [--decode-ms MS] [--reps R]
//
// Vocabularies default to the Llama SentencePiece (32k) and Llama 3 BPE
// (128k) vocabularies of the reference data (LLMD_SHARED_DIR or ../shared).
// "cached" is the normal mode (masks cached by grammar state, as in serving);
// "uncached" computes every mask by walking the trie (the worst case: a state
// never seen before). --decode-ms is the time of one CPU decode step to
// compare with (measure it with `llmd-bench -m MODEL.gguf` on the same machine).
// Times are this thread's CPU time (time the scheduler gives to other
// processes is not counted); the table shows the best of --reps runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.hpp"
#include "engine/structured/grammar_constraint.hpp"
#include "engine/structured/schema_compiler.hpp"
#include "engine/tokenizer/tokenizer.hpp"

using namespace llmd;
using namespace llmd::engine;
using namespace llmd::engine::structured;

namespace {

using Clock = std::chrono::steady_clock;

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

constexpr const char* kSchema = R"({"type":"object","properties":{
  "name":{"type":"string","maxLength":40},
  "email":{"type":"string","format":"email"},
  "age":{"type":"integer","minimum":0,"maximum":150},
  "score":{"type":"number"},
  "tags":{"type":"array","items":{"type":"string"},"maxItems":8},
  "address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},
             "country":{"enum":["FR","DE","US","JP"]}},"required":["street","city","country"],"additionalProperties":false},
  "bio":{"type":"string"}},
  "required":["name","email","age","score","tags","address","bio"],"additionalProperties":false})";

constexpr const char* kDocument =
    R"({"name": "Ada Lovelace", "email": "ada.lovelace@example.org", "age": 36, "score": 98.25, )"
    R"("tags": ["mathematics", "engines", "poetry"], "address": {"street": "12 St James's Square", )"
    R"("city": "London", "country": "FR"}, "bio": "She wrote the first published algorithm intended )"
    R"(to be carried out by a machine, and saw that such engines could act on things other than numbers."})";

struct Row {
  std::string name;
  int32_t n_vocab = 0;
  size_t nodes = 0;
  double build_ms = 0;
  size_t tokens = 0;
  double mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0;
  double uncached_mean_us = 0, uncached_max_us = 0;
};

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// Times writing the document under the grammar; per-token times in *out.
bool run(const GrammarPtr& g, const std::shared_ptr<const VocabTrie>& trie, const std::vector<int32_t>& ids, bool cache,
         std::vector<double>* out) {
  GrammarConstraint c(g, trie, cache);
  out->clear();
  for (int32_t id : ids) {
    const double t0 = thread_cpu_us();
    const std::span<const uint64_t> allowed = c.allowed();
    const bool ok = (allowed[static_cast<size_t>(id) / 64] >> (id % 64) & 1) && c.accept(id);
    out->push_back(thread_cpu_us() - t0);
    if (!ok) {
      std::fprintf(stderr, "token %d (\"%s\") refused by the grammar\n", id, trie->piece(id).c_str());
      return false;
    }
  }
  return true;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> vocabs;
  double decode_ms = 0;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--vocab" && i + 1 < argc) {
      vocabs.push_back(argv[++i]);
    } else if (a == "--decode-ms" && i + 1 < argc) {
      decode_ms = std::atof(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: llmd-bench-structured [--vocab FILE.gguf]... [--decode-ms MS] [--reps R]\n");
      return 2;
    }
  }
  if (vocabs.empty()) {
    const char* env = std::getenv("LLMD_SHARED_DIR");
    const std::string dir = env && *env ? env : LLMD_SHARED_DIR_DEFAULT;
    vocabs = {dir + "/vocab/ggml-vocab-llama-spm.gguf", dir + "/vocab/ggml-vocab-llama-bpe.gguf"};
  }
  Result<GrammarPtr> g = compile_json_schema(kSchema);
  if (!g) {
    std::fprintf(stderr, "schema: %s\n", g.error().message.c_str());
    return 1;
  }

  std::vector<Row> rows;
  for (const std::string& path : vocabs) {
    auto file = gguf::GgufFile::open(path);
    if (!file) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), file.error().message.c_str());
      return 1;
    }
    auto tok = Tokenizer::from_gguf(**file);
    if (!tok) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), tok.error().message.c_str());
      return 1;
    }
    Row row;
    row.name = path.substr(path.find_last_of('/') + 1);
    row.n_vocab = (*tok)->n_vocab();
    const auto t0 = Clock::now();
    auto trie = std::make_shared<const VocabTrie>(**tok);
    row.build_ms = us(Clock::now() - t0) / 1000.0;
    row.nodes = trie->size();
    const std::vector<int32_t> ids = (*tok)->encode(kDocument, /*add_special=*/false, /*parse_special=*/false);
    row.tokens = ids.size();

    std::vector<double> best, times;
    double best_mean = 1e300;
    for (int r = 0; r < reps; ++r) {
      if (!run(*g, trie, ids, true, &times)) return 1;
      double mean = 0;
      for (double t : times) mean += t;
      mean /= static_cast<double>(times.size());
      if (mean < best_mean) best_mean = mean, best = times;
    }
    row.mean_us = best_mean;
    row.p50_us = percentile(best, 0.5);
    row.p99_us = percentile(best, 0.99);
    row.max_us = percentile(best, 1.0);
    double best_uncached = 1e300;
    for (int r = 0; r < std::max(1, reps / 2); ++r) {
      if (!run(*g, trie, ids, false, &times)) return 1;
      double mean = 0;
      for (double t : times) mean += t;
      mean /= static_cast<double>(times.size());
      if (mean < best_uncached) best_uncached = mean, row.uncached_max_us = percentile(times, 1.0);
    }
    row.uncached_mean_us = best_uncached;
    rows.push_back(row);
  }

  std::printf("structured output: token mask + grammar advance per token, writing a %zu-byte JSON document\n\n",
              std::strlen(kDocument));
  std::printf("| vocabulary | tokens | trie nodes | trie build ms | doc tokens | cached mean us | p50 | p99 | max | uncached mean us | uncached max |");
  if (decode_ms > 0) std::printf(" cached %% of %.1f ms step | uncached %% |", decode_ms);
  std::printf("\n|---|---|---|---|---|---|---|---|---|---|---|");
  if (decode_ms > 0) std::printf("---|---|");
  std::printf("\n");
  for (const Row& r : rows) {
    std::printf("| %s | %d | %zu | %.1f | %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |", r.name.c_str(), r.n_vocab,
                r.nodes, r.build_ms, r.tokens, r.mean_us, r.p50_us, r.p99_us, r.max_us, r.uncached_mean_us,
                r.uncached_max_us);
    if (decode_ms > 0) {
      std::printf(" %.2f | %.2f |", 100.0 * r.mean_us / (decode_ms * 1000.0),
                  100.0 * r.uncached_mean_us / (decode_ms * 1000.0));
    }
    std::printf("\n");
  }
  return 0;
}
