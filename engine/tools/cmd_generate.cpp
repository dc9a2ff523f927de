// llmd generate: loads a GGUF model on the CPU backend and continues a prompt.
//
//   llmd generate -m FILE -p TEXT -n N [--temp T] [--seed S] [--threads K] [--ids]
//                 [--backend cpu|cuda[:N]] [--devices LIST [--layer-split N,N,...]]
//                 [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]
//                 [--special] [--ignore-eos] [--isa NAME]
//
// The prompt is tokenized with BOS/EOS as the model's metadata asks. The
// default temperature is 0 (greedy). Generation stops after N tokens or at an
// end-of-generation token (unless --ignore-eos). Prints the continuation as it
// is generated, or with --ids the generated token ids (prompt excluded) on one
// line. Timing goes to stderr. --devices splits the model's layers across
// the listed devices in order (evenly, or as --layer-split says).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/model/model.hpp"
#include "engine/sampling/sampler.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/backend/backend_factory.hpp"
#include "engine/tools/cli.hpp"

namespace llmd::cli {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: llmd generate -m FILE -p TEXT -n N [options]\n"
               "  -m, --model FILE      GGUF model\n"
               "  -p, --prompt TEXT     prompt (BOS added as the model's metadata says)\n"
               "  -n, --n-predict N     tokens to generate\n"
               "  --temp T              temperature, 0 = greedy (default 0)\n"
               "  --top-k K, --top-p P, --min-p P, --repeat-penalty R   sampling filters (default off)\n"
               "  --seed S              random seed for sampling (default 0)\n"
               "  --threads K           CPU threads (default: all cores)\n"
               "  --backend NAME        cpu (default), cuda or cuda:N\n"
               "  --devices LIST        split the layers across devices, e.g. cpu:0,cpu:1 (replaces --backend)\n"
               "  --layer-split N,N,..  layers per device of --devices (default: spread evenly)\n"
               "  --ids                 print generated token ids on one line instead of text\n"
               "  --special             read special-token text in the prompt as those tokens\n"
               "  --ignore-eos          keep generating after an end-of-generation token\n"
               "  --isa NAME            CPU kernels: scalar, avx2, avx512 (default: best available)\n");
  return 2;
}

bool parse_int(const char* s, long lo, long hi, int* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_float(const char* s, float* out) {
  char* end = nullptr;
  const float v = std::strtof(s, &end);
  if (end == s || *end != '\0') return false;
  *out = v;
  return true;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  std::string model_path, prompt, isa, backend_name = "cpu";
  bool have_prompt = false, print_ids = false, special = false, ignore_eos = false;
  int n_predict = -1, threads = 0;
  std::vector<std::string> devices;
  std::vector<int32_t> layer_split;
  engine::SamplingParams sp;
  sp.temperature = 0.0f;
  sp.seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = true;
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "--ids") {
      print_ids = true;
    } else if (a == "--special") {
      special = true;
    } else if (a == "--ignore-eos") {
      ignore_eos = true;
    } else if (!v) {
      std::fprintf(stderr, "llmd generate: unknown option or missing value: '%s'\n", a.c_str());
      return usage();
    } else {
      ++i;
      if (a == "-m" || a == "--model") model_path = v;
      else if (a == "-p" || a == "--prompt") prompt = v, have_prompt = true;
      else if (a == "-n" || a == "--n-predict") ok = parse_int(v, 0, 1 << 24, &n_predict);
      else if (a == "--threads" || a == "-t") ok = parse_int(v, 0, 1024, &threads);
      else if (a == "--temp") ok = parse_float(v, &sp.temperature);
      else if (a == "--top-k") ok = parse_int(v, 0, 1 << 30, &sp.top_k);
      else if (a == "--top-p") ok = parse_float(v, &sp.top_p);
      else if (a == "--min-p") ok = parse_float(v, &sp.min_p);
      else if (a == "--repeat-penalty") ok = parse_float(v, &sp.repetition_penalty);
      else if (a == "--isa") isa = v;
      else if (a == "--backend") backend_name = v;
      else if (a == "--devices" || a == "--layer-split") {
        // Parsed here so a bad list is reported before the model loads.
        if (a == "--devices") {
          auto d = engine::parse_device_list(v);
          if (!d) {
            std::fprintf(stderr, "llmd generate: %s\n", d.error().message.c_str());
            return 2;
          }
          devices = std::move(*d);
        } else {
          auto l = engine::parse_layer_split(v);
          if (!l) {
            std::fprintf(stderr, "llmd generate: %s\n", l.error().message.c_str());
            return 2;
          }
          layer_split = std::move(*l);
        }
      }
      else if (a == "--seed") {
        char* end = nullptr;
        const unsigned long long s = std::strtoull(v, &end, 10);
        ok = end != v && *end == '\0';
        sp.seed = s;
      } else {
        std::fprintf(stderr, "llmd generate: unknown option '%s'\n", a.c_str());
        return usage();
      }
      if (!ok) {
        std::fprintf(stderr, "llmd generate: bad value '%s' for %s\n", v, a.c_str());
        return 2;
      }
    }
  }
  if (model_path.empty() || !have_prompt || n_predict < 0) {
    std::fprintf(stderr, "llmd generate: -m FILE, -p TEXT and -n N are required\n");
    return usage();
  }

  const auto t_load = std::chrono::steady_clock::now();
  auto model = engine::Model::load(model_path);
  if (!model) {
    std::fprintf(stderr, "llmd generate: %s\n", model.error().message.c_str());
    return 1;
  }
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  if (!tok) {
    std::fprintf(stderr, "llmd generate: %s\n", tok.error().message.c_str());
    return 1;
  }
  const engine::ModelConfig& cfg = (*model)->config();
  if (Status st = engine::validate(sp, cfg.n_vocab); !st) {
    std::fprintf(stderr, "llmd generate: %s\n", st.error().message.c_str());
    return 2;
  }
  const std::vector<int32_t> prompt_ids = (*tok)->encode(prompt, /*add_special=*/true, special);
  if (prompt_ids.empty()) {
    std::fprintf(stderr, "llmd generate: the prompt is empty and the model adds no BOS token\n");
    return 2;
  }
  for (int32_t id : prompt_ids) {
    if (id < 0 || id >= cfg.n_vocab) {
      std::fprintf(stderr, "llmd generate: the tokenizer produced id %d outside the model's %d tokens\n", id,
                   cfg.n_vocab);
      return 1;
    }
  }
  engine::BackendOptions bo{.device = backend_name, .threads = threads, .isa = isa};
  bo.devices = devices;
  bo.layer_split = layer_split;
  auto backend = engine::make_backend(**model, bo);
  if (!backend) {
    std::fprintf(stderr, "llmd generate: %s\n", backend.error().message.c_str());
    return 1;
  }
  engine::Backend& be = **backend;
  const int block = 16;
  const int64_t total = static_cast<int64_t>(prompt_ids.size()) + n_predict;
  std::vector<int32_t> table(static_cast<size_t>(total / block + 1));
  std::iota(table.begin(), table.end(), 0);
  if (Status st = be.init_kv({.n_blocks = static_cast<int32_t>(table.size()), .block_size = block}); !st) {
    std::fprintf(stderr, "llmd generate: %s\n", st.error().message.c_str());
    return 1;
  }
  if (total > cfg.n_ctx_train) {
    std::fprintf(stderr, "llmd generate: warning: %lld tokens exceed the model's training context of %d\n",
                 static_cast<long long>(total), cfg.n_ctx_train);
  }

  engine::Sampler sampler(sp);
  engine::StreamDecoder stream(**tok, engine::DecodeOptions{.render_special = false, .strip_leading_space = false});
  std::vector<int32_t> generated;
  engine::ForwardBatch batch;
  engine::ForwardOutput out;
  std::vector<int32_t> step_tokens = prompt_ids;
  int32_t pos = 0;
  const auto t_start = std::chrono::steady_clock::now();
  auto t_first = t_start;
  engine::SamplePlan plan;
  for (int i = 0; i < n_predict; ++i) {
    batch.seqs.clear();
    batch.seqs.push_back({step_tokens, pos, table, engine::LogitsMode::last});
    // The token is chosen where the backend keeps the logits (on the GPU for
    // CUDA), exactly as the sampler would choose it on the host.
    sampler.plan(static_cast<size_t>(cfg.n_vocab), prompt_ids, generated, nullptr, &plan);
    batch.samples.assign(1, engine::RowSample{0, &plan});
    if (Status st = engine::forward_and_sample(be, batch, &out); !st) {
      std::fprintf(stderr, "llmd generate: %s\n", st.error().message.c_str());
      return 1;
    }
    if (i == 0) t_first = std::chrono::steady_clock::now();
    pos += static_cast<int32_t>(step_tokens.size());
    const engine::SampledToken next = out.sampled.empty() ? engine::SampledToken{} : out.sampled[0];
    if (next.id < 0) {
      std::fprintf(stderr, "llmd generate: sampling failed\n");
      return 1;
    }
    generated.push_back(next.id);
    const bool eog = (*tok)->is_eog(next.id);
    if (!print_ids && !eog) {
      const std::string text = stream.push(next.id);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    if (eog && !ignore_eos) break;
    step_tokens.assign(1, next.id);
  }
  const auto t_end = std::chrono::steady_clock::now();
  if (print_ids) {
    for (size_t i = 0; i < generated.size(); ++i) std::printf(i ? " %d" : "%d", generated[i]);
    std::printf("\n");
  } else {
    const std::string rest = stream.finish();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::printf("\n");
  }
  const double prefill_s = seconds(t_start, t_first);
  const double decode_s = seconds(t_first, t_end);
  std::fprintf(stderr,
               "llmd generate: load %.2f s, prompt %zu tokens in %.3f s (%.1f tok/s), %zu tokens generated "
               "(%.1f tok/s)\n",
               seconds(t_load, t_start), prompt_ids.size(), prefill_s, prompt_ids.size() / std::max(prefill_s, 1e-9),
               generated.size(), generated.size() > 1 ? (generated.size() - 1) / std::max(decode_s, 1e-9) : 0.0);
  return 0;
}

}  // namespace llmd::cli
