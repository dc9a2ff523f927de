// llmd-bench-api: streaming load on the OpenAI API over TLS on loopback.
//
//   build/bin/llmd-bench-api [--model FILE] [--clients 32] [--seconds 30] [--max-tokens 128]
//                            [--endpoint chat|completions] [--threads 1] [--io-threads 2] [--llmd FILE]
//
// Starts a real llmd serving the model (default ../shared/models/stories260K.gguf),
// runs N clients that each stream one completion after another for the given
// time, and prints: errors, completed requests, streamed tokens per second,
// time to first token (p50, p99), and the server's CPU time per streamed token
// (user + system of the whole llmd process from /proc, over the run), with the
// CPU split by thread.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/api/bench_server.hpp"
#include "bench/api/stream_load.hpp"

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int usage() {
  std::fprintf(stderr,
               "usage: llmd-bench-api [--model FILE] [--clients N] [--seconds S] [--max-tokens N]\n"
               "                      [--endpoint chat|completions] [--threads N] [--io-threads N] [--llmd FILE]\n");
  return 2;
}

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace llmd::bench;
  BenchServerOptions so;
  so.llmd = self_dir() + "/llmd";
  so.model = std::string(LLMD_SHARED_DIR_DEFAULT) + "/models/stories260K.gguf";
  if (const char* env = std::getenv("LLMD_SHARED_DIR"); env && *env) so.model = std::string(env) + "/models/stories260K.gguf";
  LoadOptions lo;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) return usage();
    ++i;
    if (a == "--model") so.model = v;
    else if (a == "--llmd") so.llmd = v;
    else if (a == "--clients") lo.clients = std::atoi(v);
    else if (a == "--seconds") lo.seconds = std::atof(v);
    else if (a == "--max-tokens") lo.max_tokens = std::atoi(v);
    else if (a == "--threads") so.threads = std::atoi(v);
    else if (a == "--io-threads") so.io_threads = std::atoi(v);
    else if (a == "--endpoint" && (!std::strcmp(v, "chat") || !std::strcmp(v, "completions"))) lo.chat = !std::strcmp(v, "chat");
    else return usage();
  }
  if (lo.clients < 1 || lo.seconds <= 0 || lo.max_tokens < 1) return usage();
  if (!std::filesystem::exists(so.model)) {
    std::fprintf(stderr, "llmd-bench-api: %s is absent (pass --model FILE)\n", so.model.c_str());
    return 1;
  }
  so.max_sequences = std::max(lo.clients, 1);

  BenchServer server;
  if (!server.start(so)) return 1;
  lo.port = server.port();
  lo.ca_file = server.ca_file();
  lo.key = server.user_key();
  lo.model = server.model_id();

  const double cpu0 = server.cpu_seconds();
  const auto threads0 = server.cpu_by_thread();
  LoadResult r = run_load(lo);
  const double cpu = server.cpu_seconds() - cpu0;
  const auto threads1 = server.cpu_by_thread();
  server.stop();

  const double tok_s = r.elapsed_s > 0 ? static_cast<double>(r.tokens) / r.elapsed_s : 0;
  std::printf("llmd-bench-api: %d streaming clients, %s, %.0f s, max_tokens %d, model %s, engine threads %d\n\n",
              lo.clients, lo.chat ? "/v1/chat/completions" : "/v1/completions", lo.seconds, lo.max_tokens,
              std::filesystem::path(so.model).filename().c_str(), so.threads);
  std::printf("| %-34s | %14s |\n", "metric", "value");
  std::printf("|%s|%s|\n", std::string(36, '-').c_str(), std::string(16, '-').c_str());
  std::printf("| %-34s | %14lld |\n", "errors", static_cast<long long>(r.errors));
  std::printf("| %-34s | %14lld |\n", "requests completed", static_cast<long long>(r.requests));
  std::printf("| %-34s | %14lld |\n", "tokens streamed", static_cast<long long>(r.tokens));
  std::printf("| %-34s | %14.1f |\n", "wall time (s)", r.elapsed_s);
  std::printf("| %-34s | %14.0f |\n", "tokens/s", tok_s);
  std::printf("| %-34s | %14.2f |\n", "TTFT p50 (ms)", percentile(r.ttft_ms, 0.50));
  std::printf("| %-34s | %14.2f |\n", "TTFT p99 (ms)", percentile(r.ttft_ms, 0.99));
  std::printf("| %-34s | %14.2f |\n", "server CPU (s)", cpu);
  std::printf("| %-34s | %14.2f |\n", "server CPU per streamed token (us)",
              r.tokens > 0 ? cpu * 1e6 / static_cast<double>(r.tokens) : 0.0);
  std::printf("\nserver CPU by thread (us per streamed token):");
  for (const auto& [name, sec] : threads1) {
    auto it = threads0.find(name);
    const double d = sec - (it == threads0.end() ? 0.0 : it->second);
    if (d > 0 && r.tokens > 0) std::printf("  %s %.2f", name.c_str(), d * 1e6 / static_cast<double>(r.tokens));
  }
  std::printf("\n");
  if (r.errors > 0) std::printf("first error: %s\n", r.first_error.c_str());
  return r.errors == 0 ? 0 : 1;
}
