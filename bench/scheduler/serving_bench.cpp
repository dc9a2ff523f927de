#include "bench/scheduler/serving_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>

#include "scheduler/scheduler.hpp"

namespace llmd::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Tally {
  int tokens = 0;
  double first_token_s = -1;  // from submit; -1: no token came
};

class Serving {
 public:
  Serving(engine::Backend& backend, const engine::Model& model, const engine::Tokenizer& tok, const ServingOptions& o)
      : backend_(backend), tok_(tok), o_(o), rng_(7) {
    const auto& cfg = model.config();
    limits_ = scheduler::ModelLimits{cfg.n_ctx_train, cfg.n_vocab};
    ctx_ = cfg.n_ctx_train;
  }

  // A scheduler sized for `seqs` sequences of up to `tokens` positions each.
  std::unique_ptr<scheduler::Scheduler> make(int seqs, int tokens) {
    scheduler::SchedulerConfig cfg;
    cfg.name = "serving";
    cfg.max_seqs = seqs;
    cfg.max_choices = 1;
    cfg.max_batched_tokens = std::max(o_.chunk, seqs);
    cfg.max_waiting = 100000;
    cfg.kv_blocks = seqs * ((tokens + 15) / 16 + 1) + 4;
    auto s = scheduler::Scheduler::create(backend_, tok_, limits_, cfg);
    if (!s) {
      std::fprintf(stderr, "llmd-bench-batch: %s\n", s.error().message.c_str());
      std::exit(1);
    }
    return std::move(*s);
  }

  std::vector<int32_t> prompt(int n) {
    std::vector<int32_t> p(static_cast<size_t>(std::max(n, 1)));
    const uint32_t span = static_cast<uint32_t>(std::max(limits_.n_vocab - 3, 1));
    for (auto& t : p) t = static_cast<int32_t>(3 + rng_() % span);
    return p;
  }

  scheduler::GenerationRequest request(std::vector<int32_t> ids, int gen, Tally* t, Clock::time_point sent) {
    scheduler::GenerationRequest r;
    r.prompt = std::move(ids);
    r.sampling.temperature = 0.8f;
    r.sampling.top_p = 0.95f;
    r.sampling.seed = rng_();
    r.max_tokens = gen;
    r.ignore_eos = true;
    r.cache_salt = "s" + std::to_string(salt_++);  // nothing shared: every prompt is computed
    r.on_event = [t, sent](scheduler::StreamEvent&& ev) {
      if (t->first_token_s < 0 && !ev.tokens.empty()) t->first_token_s = seconds_since(sent);
      t->tokens += static_cast<int>(ev.tokens.size());
    };
    return r;
  }

  void submit(scheduler::Scheduler& s, scheduler::GenerationRequest r) {
    if (auto id = s.submit(std::move(r)); !id) {
      std::fprintf(stderr, "llmd-bench-batch: submit failed: %s\n", id.error().message.c_str());
      std::exit(1);
    }
  }

  void decode(int batch) {
    // The prompts are computed in chunks while the first sequences already
    // decode: each generates long enough that all `batch` still decode
    // together for about decode_tokens steps after the last prompt is in.
    const int hi0 = std::max(1, std::min(o_.context_hi, ctx_ / 2));
    const int64_t prompt_steps = (static_cast<int64_t>(batch) * hi0) / std::max(o_.chunk, 1) + 2;
    const int gen = static_cast<int>(std::min<int64_t>(o_.decode_tokens + prompt_steps, ctx_ / 2));
    const int hi = std::max(1, std::min(o_.context_hi, ctx_ - gen - 1));
    const int lo = std::max(1, std::min(o_.context_lo, hi));
    auto s = make(batch, hi + gen);
    std::vector<Tally> tallies(static_cast<size_t>(batch));
    double context_sum = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) {
      const int len = lo + static_cast<int>(rng_() % static_cast<uint32_t>(hi - lo + 1));
      context_sum += len;
      submit(*s, request(prompt(len), gen, &tallies[static_cast<size_t>(i)], t0));
    }
    double decode_s = 0;
    int64_t tokens = 0, steps = 0;
    for (;;) {
      const auto a = Clock::now();
      if (!s->step()) break;
      const double dt = seconds_since(a);
      const auto st = s->stats();
      if (st.last_batch_seqs == batch && st.last_batch_tokens == batch) {
        decode_s += dt;
        tokens += batch;
        ++steps;
      }
    }
    const double tps = decode_s > 0 ? static_cast<double>(tokens) / decode_s : 0;
    const double mean_context = context_sum / batch + (gen - o_.decode_tokens / 2.0);  // about, in the window
    std::printf("| decode, batch %d, contexts %d-%d | %.1f tok/s, %.2f ms/step (%lld steps)", batch, lo, hi, tps,
                steps > 0 ? 1000.0 * decode_s / static_cast<double>(steps) : 0.0, static_cast<long long>(steps));
    if (o_.bandwidth > 0 && o_.weight_bytes > 0) {
      const double bytes = static_cast<double>(o_.weight_bytes) +
                           static_cast<double>(batch) * mean_context * static_cast<double>(o_.kv_token_bytes);
      const double floor = batch * o_.bandwidth / bytes;
      std::printf(", floor %.1f tok/s, %.1f %% of it", floor, floor > 0 ? 100.0 * tps / floor : 0.0);
    }
    std::printf(" |\n");
  }

  void prefill() {
    const int n = std::max(2, std::min(o_.prefill, ctx_ - 2));
    auto s = make(1, n + 2);
    Tally t;
    const auto t0 = Clock::now();
    submit(*s, request(prompt(n), 1, &t, t0));
    while (s->step()) {
    }
    std::printf("| prefill, %d tokens in chunks of %d | %.1f tok/s (%.3f s to the first token) |\n", n,
                std::max(o_.chunk, 1), t.first_token_s > 0 ? n / t.first_token_s : 0.0, t.first_token_s);
  }

  void end_to_end() {
    const int n = o_.e2e_requests;
    const int gen = std::max(1, std::min(o_.e2e_completion, ctx_ / 2));
    const int len = std::max(1, std::min(o_.e2e_prompt, ctx_ - gen - 1));
    auto s = make(n, len + gen);
    std::vector<Tally> tallies(static_cast<size_t>(n));
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto r = request(prompt(len), gen, &tallies[static_cast<size_t>(i)], t0);
      // Each request its own parameters, as real clients send them.
      switch (i % 4) {
        case 0: r.sampling.temperature = 0.0f; break;
        case 1: r.sampling.top_k = 40; r.sampling.temperature = 0.7f; break;
        case 2: r.sampling.min_p = 0.05f; r.sampling.frequency_penalty = 0.5f; break;
        default: r.sampling.repetition_penalty = 1.1f; r.sampling.top_p = 0.9f; break;
      }
      submit(*s, std::move(r));
    }
    while (s->step()) {
    }
    const double wall = seconds_since(t0);
    std::vector<double> ttft;
    int64_t tokens = 0;
    int incomplete = 0;  // ended without all their tokens (an error): not in the TTFT figures
    for (const Tally& t : tallies) {
      tokens += t.tokens;
      if (t.first_token_s >= 0) ttft.push_back(t.first_token_s);
      if (t.tokens < gen) ++incomplete;
    }
    std::sort(ttft.begin(), ttft.end());
    auto pct = [&](double p) {
      return ttft.empty() ? 0.0 : ttft[std::min(ttft.size() - 1, static_cast<size_t>(p * static_cast<double>(ttft.size())))];
    };
    std::printf("| %d requests at once, %d + %d tokens, mixed sampling | %.1f tok/s, TTFT p50 %.3f s, p99 %.3f s",
                n, len, gen, static_cast<double>(tokens) / wall, pct(0.50), pct(0.99));
    if (incomplete > 0) std::printf(", %d ended early", incomplete);
    std::printf(" |\n");
  }

  void run() {
    std::printf("\n| llmd-bench-batch --serving | %s |\n|---|---|\n", backend_.name().c_str());
    for (int b : o_.batches) decode(b);
    prefill();
    end_to_end();
  }

 private:
  engine::Backend& backend_;
  const engine::Tokenizer& tok_;
  const ServingOptions& o_;
  scheduler::ModelLimits limits_;
  int ctx_ = 0;
  std::mt19937_64 rng_;
  int salt_ = 0;
};

}  // namespace

void run_serving_bench(engine::Backend& backend, const engine::Model& model, const engine::Tokenizer& tok,
                       const ServingOptions& o) {
  Serving(backend, model, tok, o).run();
}

}  // namespace llmd::bench
