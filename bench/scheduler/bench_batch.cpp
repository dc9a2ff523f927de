// llmd-bench-batch: what continuous batching and prefix caching buy on one
// model, measured through the real scheduler and CPU backend.
//
//   decode throughput: one sequence alone vs N sequences decoding together
//     (aggregate tokens/s over steps that only decode);
//   time to first token of a request whose long prompt prefix is already in
//     the prefix cache vs one whose prefix is not.
//
// Without -m it writes (once, into --model-dir) a random-weight model of the
// TinyLlama-1.1B shape in Q8_0 with the project's own writer.
//
//   llmd-bench-batch [-m FILE] [--threads 2] [--seqs 8] [--prompt 32] [--gen 64]
//                    [--prefix 1000] [--reps 3] [--shape tinyllama-1.1b] [--type q8_0]
//                    [--model-dir DIR] [--backend cpu|cpu:N|cuda:N]
//   llmd-bench-batch --serving [...]: decode per batch size with mixed
//                    contexts and sampling, chunked prefill, N requests at
//                    once end to end (serving_bench.hpp)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/scheduler/bench_args.hpp"
#include "bench/scheduler/serving_bench.hpp"
#include "engine/backend/backend_factory.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/scheduler.hpp"

namespace {

using namespace llmd;
using Clock = std::chrono::steady_clock;

struct Options {
  bench::ModelChoice model;
  std::string backend = "cpu";  // a device name for the backend factory
  bool serving = false;         // the serving mode (serving_bench.hpp)
  bench::ServingOptions serve;
  int threads = 2;
  int seqs = 8;
  int prompt = 32;
  int gen = 64;
  int prefix = 1000;
  int reps = 3;
};

Options parse(bench::BenchArgs& args) {
  Options o;
  std::string a;
  while (args.next(&a)) {
    if (bench::take_model_flag(args, a, &o.model)) continue;
    if (a == "--threads") o.threads = args.number(1, 256);
    else if (a == "--seqs") o.seqs = args.number(2, 256);
    else if (a == "--prompt") o.prompt = args.number(1, 100000);
    else if (a == "--gen") o.gen = args.number(2, 100000);
    else if (a == "--prefix") o.prefix = args.number(16, 1000000);
    else if (a == "--reps") o.reps = args.number(1, 100);
    else if (a == "--backend") o.backend = args.value();
    else if (a == "--serving") o.serving = true;
    else if (a == "--batches") o.serve.batches = args.numbers(1, 4096, 1, 16);
    else if (a == "--contexts") {
      const auto v = args.numbers(1, 1000000, 2, 2, ':');
      if (v[0] > v[1]) args.usage("--contexts wants LO:HI with LO <= HI");
      o.serve.context_lo = v[0];
      o.serve.context_hi = v[1];
    } else if (a == "--decode-tokens") o.serve.decode_tokens = args.number(2, 100000);
    else if (a == "--prefill-tokens") o.serve.prefill = args.number(2, 1000000);
    else if (a == "--chunk") o.serve.chunk = args.number(16, 1000000);
    else if (a == "--e2e") {
      const auto v = args.numbers(1, 1000000, 3, 3, ':');
      o.serve.e2e_requests = v[0];
      o.serve.e2e_prompt = v[1];
      o.serve.e2e_completion = v[2];
    } else if (a == "--bandwidth-gbs") o.serve.bandwidth = 1e9 * args.number(1, 100000);
    else args.unknown();
  }
  return o;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds this process used (all threads).
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Counter {
  int tokens = 0;
  bool done = false;
};

// A request whose events only count tokens (the sink runs on this thread).
scheduler::GenerationRequest request(std::vector<int32_t> prompt, int gen, Counter* c, const std::string& salt) {
  scheduler::GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = gen;
  r.ignore_eos = true;
  r.cache_salt = salt;
  r.on_event = [c](scheduler::StreamEvent&& ev) {
    c->tokens += static_cast<int>(ev.tokens.size());
    if (ev.done) c->done = true;
  };
  return r;
}

class Bench {
 public:
  Bench(engine::Backend& backend, const engine::Tokenizer& tok, scheduler::ModelLimits limits, const Options& o)
      : backend_(backend), tok_(tok), limits_(limits), o_(o), rng_(1) {
    scheduler::SchedulerConfig cfg;
    cfg.name = "bench";
    cfg.max_seqs = o.seqs;
    cfg.max_choices = 1;
    cfg.max_batched_tokens = std::max(512, o.seqs);
    const int per_seq = std::max(o.prompt + o.gen, o.prefix + 64);
    cfg.kv_blocks = (o.seqs + 2) * ((per_seq + 15) / 16 + 1);
    auto s = scheduler::Scheduler::create(backend, tok, limits, cfg);
    if (!s) {
      std::fprintf(stderr, "llmd-bench-batch: %s\n", s.error().message.c_str());
      std::exit(1);
    }
    s_ = std::move(s.value());
  }

  std::vector<int32_t> random_prompt(int n) {
    std::vector<int32_t> p(static_cast<size_t>(n));
    for (auto& t : p) t = static_cast<int32_t>(3 + rng_() % static_cast<uint32_t>(limits_.n_vocab - 3));
    return p;
  }

  // Aggregate decode tokens/s of `n` sequences, over steps that only decode.
  double decode_rate(int n) {
    std::vector<Counter> counters(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      if (!s_->submit(request(random_prompt(o_.prompt), o_.gen, &counters[static_cast<size_t>(i)],
                              "d" + std::to_string(salt_++)))) {
        std::fprintf(stderr, "llmd-bench-batch: submit failed\n");
        std::exit(1);
      }
    }
    double decode_s = 0;
    int64_t decode_tokens = 0;
    for (;;) {
      const auto t0 = Clock::now();
      if (!s_->step()) break;
      const auto t1 = Clock::now();
      const auto st = s_->stats();
      // Count only steps in which all n decode (no prefill chunk, nobody finished yet).
      if (st.last_batch_tokens == st.last_batch_seqs && st.last_batch_seqs == n) {
        decode_s += seconds(t0, t1);
        decode_tokens += st.last_batch_tokens;
      }
    }
    return decode_s > 0 ? static_cast<double>(decode_tokens) / decode_s : 0.0;
  }

  // Seconds from submit to the first token of a prefix + suffix prompt.
  double ttft(const std::vector<int32_t>& prefix, const std::string& salt, int32_t* cached) {
    std::vector<int32_t> prompt = prefix;
    const auto suffix = random_prompt(8);
    prompt.insert(prompt.end(), suffix.begin(), suffix.end());
    Counter c;
    int32_t hit = -1;
    auto req = request(prompt, 2, &c, salt);
    req.on_event = [&c, &hit](scheduler::StreamEvent&& ev) {
      c.tokens += static_cast<int>(ev.tokens.size());
      hit = ev.usage.cached_tokens;
      if (ev.done) c.done = true;
    };
    const auto t0 = Clock::now();
    if (!s_->submit(std::move(req))) std::exit(1);
    while (c.tokens == 0 && s_->step()) {
    }
    const double t = seconds(t0, Clock::now());
    while (s_->step()) {
    }
    *cached = hit;
    return t;
  }

  void run() {
    const auto wall0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    double single = 0, batched = 0;
    for (int r = 0; r < o_.reps; ++r) {
      single = std::max(single, decode_rate(1));
      batched = std::max(batched, decode_rate(o_.seqs));
    }

    const auto prefix = random_prompt(o_.prefix);
    double cold = 1e30, warm = 1e30;
    int32_t cold_hit = 0, warm_hit = 0;
    for (int r = 0; r < o_.reps; ++r) {
      // Cold: a salt never seen, so nothing of the prefix is cached.
      cold = std::min(cold, ttft(prefix, "cold" + std::to_string(salt_++), &cold_hit));
      // Warm: the same salt as a finished request with this prefix.
      const std::string salt = "warm" + std::to_string(salt_++);
      int32_t ignored = 0;
      ttft(prefix, salt, &ignored);
      warm = std::min(warm, ttft(prefix, salt, &warm_hit));
    }

    const auto st = s_->stats();
    std::printf("\n| llmd-bench-batch | %s, %d threads |\n", backend_.name().c_str(), o_.threads);
    std::printf("|---|---|\n");
    std::printf("| decode, 1 sequence | %.1f tok/s |\n", single);
    std::printf("| decode, %d sequences (aggregate) | %.1f tok/s |\n", o_.seqs, batched);
    std::printf("| batching speedup | %.2fx (target >= 3x) |\n", single > 0 ? batched / single : 0.0);
    std::printf("| TTFT, %d-token prefix, not cached | %.3f s (cached tokens %d) |\n", o_.prefix, cold, cold_hit);
    std::printf("| TTFT, %d-token prefix, cached | %.3f s (cached tokens %d) |\n", o_.prefix, warm, warm_hit);
    std::printf("| prefix-cache TTFT speedup | %.1fx (target >= 5x) |\n", warm > 0 ? cold / warm : 0.0);
    std::printf("| steps / preemptions | %llu / %llu |\n", static_cast<unsigned long long>(st.steps),
                static_cast<unsigned long long>(st.preemptions));
    // Close to the thread count when the machine was ours for the whole run.
    std::printf("| CPU cores used on average | %.2f of %d threads |\n",
                (process_cpu_seconds() - cpu0) / seconds(wall0, Clock::now()), o_.threads);
  }

 private:
  engine::Backend& backend_;
  const engine::Tokenizer& tok_;
  scheduler::ModelLimits limits_;
  Options o_;
  std::mt19937 rng_;
  std::unique_ptr<scheduler::Scheduler> s_;
  int salt_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  bench::BenchArgs args("llmd-bench-batch",
                        "llmd-bench-batch [-m FILE] [--threads K] [--seqs N] [--prompt P] [--gen G]\n"
                        "                        [--prefix L] [--reps R] [--shape NAME] [--type TYPE] [--model-dir DIR]\n"
                        "                        [--backend DEVICE] [--serving [--batches 1,8,32,64,128] [--contexts LO:HI]\n"
                        "                         [--decode-tokens G] [--prefill-tokens P] [--chunk C] [--e2e N:PROMPT:GEN]\n"
                        "                         [--bandwidth-gbs B]]",
                        argc, argv);
  const Options o = parse(args);
  const std::string path = bench::ensure_model(args, o.model);
  auto model = engine::Model::load(path);
  if (!model) {
    std::fprintf(stderr, "llmd-bench-batch: %s\n", model.error().message.c_str());
    return 1;
  }
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  if (!tok) {
    std::fprintf(stderr, "llmd-bench-batch: %s\n", tok.error().message.c_str());
    return 1;
  }
  engine::BackendOptions bo;
  bo.device = o.backend;
  bo.threads = o.threads;
  bo.max_batch_tokens = o.serving ? o.serve.chunk : 0;
  auto backend = engine::make_backend(**model, bo);
  if (!backend) {
    std::fprintf(stderr, "llmd-bench-batch: %s\n", backend.error().message.c_str());
    return 1;
  }
  const auto& cfg = (*model)->config();
  std::printf("model %s: %d layers, n_embd %d, %d heads / %d KV heads, vocab %d, context %d\n", path.c_str(),
              cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_head_kv, cfg.n_vocab, cfg.n_ctx_train);
  if (o.serving) {
    bench::ServingOptions serve = o.serve;
    const auto kind = engine::parse_device_name(o.backend);
    const engine::KvCacheShape kv{1, 16, engine::KvDtype::f16};
    if (kind) {
      if (auto est = engine::estimate_memory(**model, kind->kind, kv, serve.chunk)) serve.weight_bytes = est->weights;
      serve.kv_token_bytes = engine::kv_block_bytes_on(kind->kind, cfg, kv) / 16;
    }
    bench::run_serving_bench(**backend, **model, **tok, serve);
    return 0;
  }
  if (o.prefix + 16 >= cfg.n_ctx_train) args.usage("--prefix must leave room in the model's context");
  Bench b(**backend, **tok, scheduler::ModelLimits{cfg.n_ctx_train, cfg.n_vocab}, o);
  b.run();
  return 0;
}
