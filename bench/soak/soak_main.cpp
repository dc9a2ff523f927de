// llmd-soak: mixed traffic against a real llmd on loopback for a long time,
// watching for leaks and errors.
//
//   build/bin/llmd-soak [--minutes 2] [--connections 8] [--cycle-seconds 15] [--llmd FILE]
//
// Writes two small synthetic models, starts `llmd serve` with both, runs the
// clients of soak_traffic.hpp and prints one row per interval: requests,
// answers as expected, aborted streams, 5xx, other unexpected answers,
// latency p50/p99, the server's RSS and open fds, and the KV blocks in use.
// After the traffic stops and the server is idle it checks:
//   - no 5xx and no unexpected answer or transport error,
//   - RSS never above its value after warm-up (the first fifth of the run,
//     at least 20 s) by more than 5 % (runs of 10 minutes or more: shorter
//     ones end while bounded caches are still filling),
//   - fds and KV blocks back at their values before the traffic.
// Exit status 0 when all hold (scripts/soak.sh runs it; docs/soak.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/api/bench_server.hpp"
#include "bench/soak/soak_probe.hpp"
#include "bench/soak/soak_traffic.hpp"
#include "engine/synth/synth_model.hpp"
#include "engine/synth/synth_shapes.hpp"

namespace {

using namespace llmd::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr double kRssCheckMinSeconds = 600;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int usage() {
  std::fprintf(stderr, "usage: llmd-soak [--minutes M] [--connections N] [--cycle-seconds S] [--llmd FILE]\n");
  return 2;
}

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

void print_row(const std::string& when, const Tally& t, const ProbeSample& p) {
  std::printf("| %7s | %8lld | %8lld | %7lld | %5lld | %10lld | %8.1f | %8.1f | %8.1f | %5lld | %9lld |\n",
              when.c_str(), static_cast<long long>(t.requests), static_cast<long long>(t.ok), static_cast<long long>(t.aborted),
              static_cast<long long>(t.server_errors),
              static_cast<long long>(t.unexpected + t.transport_errors), percentile(t.latency_ms, 0.50),
              percentile(t.latency_ms, 0.99), static_cast<double>(p.rss_kb) / 1024.0, static_cast<long long>(p.fds),
              static_cast<long long>(p.kv_blocks));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  double minutes = 2;
  int connections = 8;
  double cycle_s = 15;
  std::string llmd = self_dir() + "/llmd";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) return usage();
    ++i;
    if (a == "--minutes") minutes = std::atof(v);
    else if (a == "--connections") connections = std::atoi(v);
    else if (a == "--llmd") llmd = v;
    else if (a == "--cycle-seconds") cycle_s = std::atof(v);
    else return usage();
  }
  if (minutes <= 0 || connections < 1) return usage();

  // Two small synthetic models: one always loaded, one unloaded and loaded again.
  char tmpl[] = "/tmp/llmd-soak-models.XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const std::string models_dir = tmpl;
  const auto* shape = llmd::engine::synth::find_synth_shape("test-llama");
  llmd::engine::synth::SynthOptions so;
  so.type = "f32";
  so.threads = 1;
  for (const char* name : {"soak", "spare"}) {
    auto st = llmd::engine::synth::write_synth_model(*shape, so, models_dir + "/" + name + ".gguf");
    if (!st) {
      std::fprintf(stderr, "llmd-soak: cannot write a synthetic model: %s\n", st.error().message.c_str());
      return 1;
    }
  }

  BenchServerOptions bo;
  bo.llmd = llmd;
  bo.model = models_dir + "/soak.gguf";
  bo.extra_models = {{"spare", models_dir + "/spare.gguf"}};
  bo.max_sequences = std::max(connections, 4);
  bo.limits = "max_connections_per_client = 0\n";
  BenchServer server;
  if (!server.start(bo)) return 1;
  Probe probe(server.pid(), server.port(), server.ca_file(), server.admin_key());
  const ProbeSample before = probe.sample();

  TrafficOptions to;
  to.port = server.port();
  to.ca_file = server.ca_file();
  to.user_key = server.user_key();
  to.admin_key = server.admin_key();
  to.model = server.model_id();
  to.spare_model = cycle_s > 0 ? "spare" : "";
  to.cycle_s = cycle_s;
  to.connections = connections;
  Traffic traffic(to);

  const double total_s = minutes * 60;
  const double warmup_s = std::max(20.0, total_s / 5);
  const double interval_s = std::clamp(total_s / 12, 10.0, 120.0);
  std::printf("llmd-soak: %.1f min, %d connections, warm-up %.0f s, a row every %.0f s\n\n", minutes, connections,
              warmup_s, interval_s);
  std::printf("| %7s | %8s | %8s | %7s | %5s | %10s | %8s | %8s | %8s | %5s | %9s |\n", "t (s)", "requests",
              "expected", "aborted", "5xx", "unexpected", "p50 ms", "p99 ms", "RSS MiB", "fds", "KV blocks");
  std::printf("|---------|----------|----------|---------|-------|------------|----------|----------|----------|-------|-----------|\n");
  print_row("before", Tally{}, before);

  const auto t0 = Clock::now();
  traffic.start();
  Tally all;
  int64_t rss_warm = -1, rss_max_after = 0;
  double next = interval_s;
  bool warm = false;
  while (true) {
    const double now = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!warm && now >= warmup_s) {
      rss_warm = probe.sample().rss_kb;
      warm = true;
    }
    if (now >= next || now >= total_s) {
      Tally t = traffic.take();
      ProbeSample p = probe.sample();
      if (warm) rss_max_after = std::max(rss_max_after, p.rss_kb);
      print_row(std::to_string(static_cast<int>(now)), t, p);
      all.add(t);
      next += interval_s;
    }
    if (now >= total_s) break;
    std::this_thread::sleep_for(200ms);
  }
  traffic.stop();
  all.add(traffic.take());

  // Idle: what the clients held must be given back.
  ProbeSample after;
  const auto settle_until = Clock::now() + 30s;
  do {
    std::this_thread::sleep_for(500ms);
    after = probe.sample();
  } while ((after.fds > before.fds || after.kv_blocks != before.kv_blocks) && Clock::now() < settle_until);
  if (warm) rss_max_after = std::max(rss_max_after, after.rss_kb);
  print_row("idle", Tally{}, after);

  std::printf("\ntotal: %lld requests, %lld as expected, %lld streams abandoned, %lld 5xx, %lld unexpected, "
              "%lld transport errors, %lld unload+load cycles of the spare model; latency p50 %.1f ms, p99 %.1f ms\n",
              static_cast<long long>(all.requests), static_cast<long long>(all.ok), static_cast<long long>(all.aborted),
              static_cast<long long>(all.server_errors), static_cast<long long>(all.unexpected),
              static_cast<long long>(all.transport_errors), static_cast<long long>(all.model_cycles),
              percentile(all.latency_ms, 0.50), percentile(all.latency_ms, 0.99));
  std::printf("RSS after warm-up %.1f MiB, highest after it %.1f MiB (%+.1f %%); fds %lld -> %lld; KV blocks %lld -> %lld\n",
              static_cast<double>(rss_warm) / 1024.0, static_cast<double>(rss_max_after) / 1024.0,
              rss_warm > 0 ? 100.0 * static_cast<double>(rss_max_after - rss_warm) / static_cast<double>(rss_warm) : 0.0,
              static_cast<long long>(before.fds), static_cast<long long>(after.fds),
              static_cast<long long>(before.kv_blocks), static_cast<long long>(after.kv_blocks));

  std::vector<std::string> failures;
  if (all.server_errors > 0) failures.push_back("5xx answers");
  if (all.unexpected > 0 || all.transport_errors > 0) failures.push_back("unexpected answers or transport errors");
  // The first minutes fill bounded caches (SQLite's page caches as the usage
  // table grows, the allocator's arenas), so the RSS check needs a long run.
  if (total_s < kRssCheckMinSeconds) {
    std::printf("RSS check not applied: runs shorter than %.0f min are still filling caches\n",
                kRssCheckMinSeconds / 60);
  } else if (!warm || rss_warm <= 0) {
    failures.push_back("no RSS sample after warm-up");
  } else if (static_cast<double>(rss_max_after) > 1.05 * static_cast<double>(rss_warm)) {
    failures.push_back("RSS grew more than 5 %");
  }
  if (after.fds > before.fds) failures.push_back("more fds open than before the traffic");
  if (after.kv_blocks != before.kv_blocks) failures.push_back("KV blocks not back to their value before the traffic");
  if (all.model_cycles == 0 && total_s >= 60 && cycle_s > 0) failures.push_back("the spare model was never unloaded and loaded again");
  for (const auto& p : all.problems) std::printf("problem: %s\n", p.c_str());
  server.stop();
  std::error_code ec;
  std::filesystem::remove_all(models_dir, ec);
  if (failures.empty()) {
    std::printf("soak: PASS\n");
    return 0;
  }
  for (const auto& f : failures) std::printf("soak: FAIL: %s\n", f.c_str());
  return 1;
}
