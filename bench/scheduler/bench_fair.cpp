// llmd-bench-fair: the weighted fair share under closed-loop clients, through
// the real scheduler loops and CPU backends, in real time.
//
// Every client sends its next request as soon as the previous one is done
// (from the engine thread's sink, so with no think time). Per scenario it
// prints each team's share of completion tokens (or of device time, for the
// two-model scenarios) against its weight share, the share preemptions per
// 1,000 tokens, and the aggregate throughput against the single-team run of
// the same request lengths.
//
//   llmd-bench-fair [-m FILE] [--seconds 20] [--threads 2] [--seqs 16]
//                   [--prompt 32] [--gen 64] [--shape tinyllama-1.1b] [--type q8_0]
//                   [--model-dir DIR] [--quantum-us 2000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/scheduler/bench_args.hpp"
#include "engine/cpu/cpu_backend.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/device_arbiter.hpp"
#include "scheduler/scheduler.hpp"

namespace {

using namespace llmd;
using Clock = std::chrono::steady_clock;

struct Options {
  bench::ModelChoice model;
  int seconds = 20;
  int threads = 2;
  int seqs = 16;
  int prompt = 32;
  int gen = 64;
  int quantum_us = 2000;  // the device arbiter's turn
};

Options parse(bench::BenchArgs& args) {
  Options o;
  std::string a;
  while (args.next(&a)) {
    if (bench::take_model_flag(args, a, &o.model)) continue;
    if (a == "--seconds") o.seconds = args.number(1, 3600);
    else if (a == "--threads") o.threads = args.number(1, 256);
    else if (a == "--seqs") o.seqs = args.number(2, 256);
    else if (a == "--prompt") o.prompt = args.number(2, 100000);
    else if (a == "--gen") o.gen = args.number(2, 100000);
    else if (a == "--quantum-us") o.quantum_us = args.number(0, 3000);
    else args.unknown();
  }
  return o;
}

struct Group {
  std::string team;
  double weight = 1.0;
  int clients = 1;
  int model = 0;  // which of the scenario's models (0 or 1)
  scheduler::Priority priority = scheduler::Priority::interactive;
  int prompt = 0;  // 0: the options' --prompt
  int gen = 0;     // 0: the options' --gen; -1: 8..2*gen at random
};

struct Scenario {
  std::string name;
  std::vector<Group> groups;
  int models = 1;  // 2: two models on one device, shares of device time
  // Compared with the single-team run of the same request lengths.
  bool mixed = false;  // lengths 8..2*gen at random (else --gen)
};

struct TeamTally {
  std::atomic<int64_t> tokens{0};
  std::mutex mu;
  std::vector<double> ttft;  // seconds
};

// The closed-loop clients of one scenario.
class Run {
 public:
  Run(const Options& o, std::vector<scheduler::Scheduler*> scheds, std::vector<Group> groups)
      : o_(o), scheds_(std::move(scheds)), groups_(std::move(groups)) {
    for (const Group& g : groups_) tallies_[g.team];
  }

  void start() {
    uint32_t seed = 1;
    for (const Group& g : groups_) {
      for (int i = 0; i < g.clients; ++i) send(g, seed++);
    }
  }
  void stop() { stop_ = true; }
  bool measuring() const { return measuring_.load(); }
  void measure(bool on) { measuring_ = on; }
  std::map<std::string, TeamTally>& tallies() { return tallies_; }

 private:
  void send(const Group& g, uint32_t seed) {
    std::mt19937 rng(seed);
    const int len = g.prompt > 0 ? g.prompt : o_.prompt;
    const int gen = g.gen > 0 ? g.gen : g.gen < 0 ? 8 + static_cast<int>(rng() % static_cast<uint32_t>(2 * o_.gen)) : o_.gen;
    std::vector<int32_t> prompt(static_cast<size_t>(len));
    prompt[0] = 1;
    for (size_t i = 1; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(3 + rng() % 250);
    scheduler::GenerationRequest r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0.0f;
    r.max_tokens = gen;
    r.ignore_eos = true;
    r.team = g.team;
    r.team_weight = g.weight;
    r.priority = g.priority;
    r.cache_salt = g.team;
    const Clock::time_point sent = Clock::now();
    auto first = std::make_shared<bool>(true);
    r.on_event = [this, &g, seed, sent, first](scheduler::StreamEvent&& ev) {
      TeamTally& t = tallies_.at(g.team);
      if (measuring_) t.tokens += static_cast<int64_t>(ev.tokens.size());
      if (*first && !ev.tokens.empty()) {
        *first = false;
        if (measuring_) {
          std::lock_guard lk(t.mu);
          t.ttft.push_back(std::chrono::duration<double>(Clock::now() - sent).count());
        }
      }
      if (ev.done && !stop_) send(g, seed * 2654435761u + 1);
    };
    (void)scheds_[static_cast<size_t>(g.model)]->submit(std::move(r));
  }

  const Options& o_;
  std::vector<scheduler::Scheduler*> scheds_;
  const std::vector<Group> groups_;
  std::map<std::string, TeamTally> tallies_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> measuring_{false};
};

double p95(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * 95 / 100)];
}

struct Bench {
  const Options& o;
  const engine::Model& model;
  const engine::Tokenizer& tok;
  std::vector<std::unique_ptr<engine::Backend>> backends;  // two, for the two-model scenarios
  double baseline_tps = 0;        // one team, --gen tokens per request
  double mixed_baseline_tps = 0;  // one team, mixed lengths

  std::unique_ptr<scheduler::Scheduler> make(engine::Backend& b) {
    scheduler::SchedulerConfig cfg;
    cfg.name = "bench";
    cfg.max_seqs = o.seqs;
    cfg.max_choices = 1;
    cfg.max_batched_tokens = std::max(512, o.seqs);
    cfg.max_waiting = 100000;
    cfg.max_waiting_per_team = 100000;
    const auto& mc = model.config();
    auto s = scheduler::Scheduler::create(b, tok, scheduler::ModelLimits{mc.n_ctx_train, mc.n_vocab}, cfg);
    if (!s) {
      std::fprintf(stderr, "llmd-bench-fair: %s\n", s.error().message.c_str());
      std::exit(1);
    }
    return std::move(*s);
  }

  void run(const Scenario& sc) {
    auto arbiter = std::make_shared<scheduler::DeviceArbiter>("cpu", std::chrono::milliseconds(500),
                                                              std::chrono::microseconds(3000),
                                                              std::chrono::microseconds(o.quantum_us));
    std::vector<std::unique_ptr<scheduler::Scheduler>> owned;
    std::vector<scheduler::Scheduler*> scheds;
    for (int i = 0; i < sc.models; ++i) {
      owned.push_back(make(*backends[static_cast<size_t>(i)]));
      owned.back()->replace_backend(backends[static_cast<size_t>(i)].get(), nullptr, arbiter);
      owned.back()->start();
      scheds.push_back(owned.back().get());
    }
    Run run(o, scheds, sc.groups);
    run.start();
    std::this_thread::sleep_for(std::chrono::seconds(std::max(1, o.seconds / 5)));  // warm-up
    const auto before = arbiter->stats();
    uint64_t pre_before = 0;
    for (auto* s : scheds) pre_before += s->stats().share_preemptions;
    run.measure(true);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
    run.measure(false);
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto after = arbiter->stats();
    uint64_t pre_after = 0;
    for (auto* s : scheds) pre_after += s->stats().share_preemptions;
    run.stop();
    for (auto& s : owned) s->stop();

    double weights = 0;
    int64_t tokens = 0;
    for (const Group& g : sc.groups) weights += g.weight;
    for (auto& [team, t] : run.tallies()) tokens += t.tokens.load();
    std::map<std::string, double> dev;
    double dev_total = 0;
    for (const auto& t : after.teams) {
      double d = t.device_seconds;
      for (const auto& b : before.teams) {
        if (b.team == t.team) d -= b.device_seconds;
      }
      dev[t.team] = d;
      dev_total += d;
    }
    const double tps = static_cast<double>(tokens) / elapsed;
    double& base = sc.mixed ? mixed_baseline_tps : baseline_tps;
    if (base == 0) base = tps;
    const double per_k = tokens > 0 ? 1000.0 * static_cast<double>(pre_after - pre_before) / static_cast<double>(tokens) : 0;
    const double busy = after.busy_seconds - before.busy_seconds;
    const double steps = static_cast<double>(after.turns - before.turns);
    std::printf("\n%s  (%.0f tok/s, %.1f %% of the single-team run; %.2f share preemptions per 1,000 tokens)\n",
                sc.name.c_str(), tps, 100.0 * tps / base, per_k);
    std::printf("  device busy %.1f %% of the time; %.0f steps/s of %.3f ms; %.0f hand-overs/s\n",
                100.0 * busy / elapsed, steps / elapsed, steps > 0 ? 1000.0 * busy / steps : 0.0,
                static_cast<double>(after.handovers - before.handovers) / elapsed);
    std::printf("  %-10s %7s %8s %-12s %8s %8s %12s\n", "team", "weight", "clients", "class", "want", "got",
                "p95 TTFT ms");
    // A weight share is what a team is owed only when every team keeps a
    // full batch's worth of requests coming.
    bool all_backlogged = true;
    for (const Group& g : sc.groups) all_backlogged = all_backlogged && g.clients >= o.seqs;
    for (const Group& g : sc.groups) {
      TeamTally& t = run.tallies().at(g.team);
      const double got = sc.models > 1 ? (dev_total > 0 ? dev[g.team] / dev_total : 0)
                                       : (tokens > 0 ? static_cast<double>(t.tokens.load()) / static_cast<double>(tokens) : 0);
      std::lock_guard lk(t.mu);
      char want[16] = "     -";
      if (all_backlogged) std::snprintf(want, sizeof want, "%5.1f%%", 100.0 * g.weight / weights);
      std::printf("  %-10s %7.1f %8d %-12s %8s %7.1f%% %12.1f\n", g.team.c_str(), g.weight, g.clients,
                  std::string(scheduler::to_string(g.priority)).c_str(), want, 100.0 * got, 1000.0 * p95(t.ttft));
    }
    if (sc.models > 1) std::printf("  (shares of device time)\n");
  }
};

}  // namespace

int main(int argc, char** argv) {
  bench::BenchArgs args("llmd-bench-fair",
                        "llmd-bench-fair [-m FILE] [--seconds S] [--threads K] [--seqs N] [--prompt P] [--gen G]\n"
                        "                       [--shape NAME] [--type TYPE] [--model-dir DIR] [--quantum-us Q]",
                        argc, argv);
  const Options o = parse(args);
  const std::string path = bench::ensure_model(args, o.model);
  auto model = engine::Model::load(path);
  if (!model) {
    std::fprintf(stderr, "llmd-bench-fair: %s\n", model.error().message.c_str());
    return 1;
  }
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  if (!tok) {
    std::fprintf(stderr, "llmd-bench-fair: %s\n", tok.error().message.c_str());
    return 1;
  }
  Bench bench{o, **model, **tok, {}};
  for (int i = 0; i < 2; ++i) {
    engine::CpuBackendOptions bo;
    bo.threads = o.threads;
    auto backend = engine::make_cpu_backend(**model, bo);
    if (!backend) {
      std::fprintf(stderr, "llmd-bench-fair: %s\n", backend.error().message.c_str());
      return 1;
    }
    bench.backends.push_back(std::move(*backend));
  }
  const auto& cfg = (*model)->config();
  std::printf("model %s: %d layers, n_embd %d; %d threads, max_seqs %d, prompt %d, gen %d, %d s per scenario\n",
              path.c_str(), cfg.n_layer, cfg.n_embd, o.threads, o.seqs, o.prompt, o.gen, o.seconds);
  const int n = o.seqs;
  using P = scheduler::Priority;
  const std::vector<Scenario> scenarios = {
      {"one team (baseline)", {{"solo", 1.0, 3 * n}}},
      {"weights 1:3, b with max_seqs clients", {{"a", 1.0, 2 * n}, {"b", 3.0, n}}},
      {"weights 1:1:2", {{"a", 1.0, n}, {"b", 1.0, n}, {"c", 2.0, n}}},
      {"one team, mixed lengths (their baseline)", {{"solo", 1.0, 3 * n, 0, P::interactive, 0, -1}}, 1, true},
      {"weights 1:3, mixed lengths",
       {{"a", 1.0, 2 * n, 0, P::interactive, 0, -1}, {"b", 3.0, n, 0, P::interactive, 0, -1}},
       1,
       true},
      {"a light team beside a flood", {{"flood", 1.0, 4 * n}, {"light", 1.0, 1, 0, P::interactive, 8, 16}}},
      {"interactive beside a batch flood", {{"nightly", 1.0, 4 * n, 0, P::batch}, {"user", 1.0, 1, 0, P::interactive, 8, 16}}},
      {"two models on one device, 1:1", {{"a", 1.0, n, 0}, {"b", 1.0, n, 1}}, 2},
      {"two models on one device, 1:3", {{"a", 1.0, n, 0}, {"b", 3.0, n, 1}}, 2},
  };
  for (const Scenario& sc : scenarios) bench.run(sc);
  return 0;
}
