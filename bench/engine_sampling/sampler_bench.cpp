// Microseconds per Sampler::sample() for common parameter sets on
// vocabulary-sized rows. Prints a table.
//   llmd-bench-sampler [--quick] [--case TEXT]
// --quick runs fewer repetitions; --case runs only the cases whose name
// contains TEXT. Times are this thread's CPU time (so time the scheduler gives
// to other processes is not counted), best of several runs.
//
// Rows: "peaked" is a model-like row (logits ~ N(0, 2.5) with a dozen
// plausible tokens 12..18 above the bulk), "flat" a worst case for top-p
// (uniform logits over a range of 4, so the nucleus holds most of the vocabulary).
#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/sampling/rng.hpp"
#include "engine/sampling/sampler.hpp"

namespace {

using llmd::engine::Rng;
using llmd::engine::Sampler;
using llmd::engine::SamplingParams;

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

std::vector<float> peaked_row(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> row(n);
  for (size_t i = 0; i < n; i += 2) {  // Box-Muller, two normals per step
    const double r = std::sqrt(-2.0 * std::log(1.0 - rng.uniform())), a = 6.283185307179586 * rng.uniform();
    row[i] = static_cast<float>(2.5 * r * std::cos(a));
    if (i + 1 < n) row[i + 1] = static_cast<float>(2.5 * r * std::sin(a));
  }
  for (int k = 0; k < 12; ++k) row[rng.next() % n] = 12.0f + static_cast<float>(6.0 * rng.uniform());
  return row;
}

std::vector<float> flat_row(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> row(n);
  for (float& x : row) x = static_cast<float>(4.0 * rng.uniform());
  return row;
}

struct Case {
  const char* name;
  bool flat;
  SamplingParams params;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](const char* name, bool flat, auto&& set) {
    SamplingParams p;
    p.seed = 1;
    set(p);
    out.push_back({name, flat, p});
  };
  add("greedy", false, [](SamplingParams& p) { p.temperature = 0.0f; });
  add("greedy + 5 logprobs", false, [](SamplingParams& p) {
    p.temperature = 0.0f;
    p.n_logprobs = 5;
  });
  add("T=1", false, [](SamplingParams&) {});
  add("T=0.8", false, [](SamplingParams& p) { p.temperature = 0.8f; });
  add("T=0.8 + logprob", false, [](SamplingParams& p) {
    p.temperature = 0.8f;
    p.logprobs = true;
  });
  add("T=0.8 top_k=40", false, [](SamplingParams& p) {
    p.temperature = 0.8f;
    p.top_k = 40;
  });
  add("T=0.8 top_p=0.95", false, [](SamplingParams& p) {
    p.temperature = 0.8f;
    p.top_p = 0.95f;
  });
  add("T=0.8 min_p=0.05", false, [](SamplingParams& p) {
    p.temperature = 0.8f;
    p.min_p = 0.05f;
  });
  add("T=0.8 k=40 p=.95 min_p=.05 pen", false, [](SamplingParams& p) {
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repetition_penalty = 1.1f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.5f;
  });
  add("flat T=1 top_p=0.9", true, [](SamplingParams& p) { p.top_p = 0.9f; });
  add("flat T=1.5 top_p=0.5", true, [](SamplingParams& p) {
    p.temperature = 1.5f;
    p.top_p = 0.5f;
  });
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: llmd-bench-sampler [--quick] [--case TEXT]\n");
      return 2;
    }
  }
  const int reps = quick ? 3 : 7, samples = quick ? 50 : 200;
  const size_t vocabs[] = {32000, 128256};
  // A generation history for the penalties: 1024 prompt + 512 generated ids.
  Rng rng(3);
  std::vector<int32_t> prompt(1024), generated(512);
  for (int32_t& id : prompt) id = static_cast<int32_t>(rng.next() % 32000);
  for (int32_t& id : generated) id = static_cast<int32_t>(rng.next() % 32000);

  std::printf("%-32s %12s %12s\n", "case (us per sample, best of runs)", "vocab 32000", "vocab 128256");
  for (const Case& c : cases()) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    std::printf("%-32s", c.name);
    for (const size_t n : vocabs) {
      const std::vector<float> row = c.flat ? flat_row(n, 7) : peaked_row(n, 7);
      Sampler sampler(c.params);
      double best = 1e30;
      int64_t checksum = 0;
      for (int r = 0; r < reps; ++r) {
        const double t0 = thread_cpu_us();
        for (int s = 0; s < samples; ++s) checksum += sampler.sample(row, prompt, generated).id;
        best = std::min(best, (thread_cpu_us() - t0) / samples);
      }
      std::printf(" %12.1f", best);
      if (checksum < 0) std::printf("!");  // keeps the work observable
    }
    std::printf("\n");
  }
  return 0;
}
