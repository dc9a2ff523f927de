// llmd-bench: prefill and decode throughput of a GGUF model on the CPU backend.
//
//   llmd-bench -m FILE [--threads K] [--prompt 128] [--gen 32] [--batch B]
//              [--reps R] [--isa scalar|avx2|avx512] [--kv f16|f32] [--json]
//              [--backend cpu|cuda[:N]] [--devices LIST [--layer-split N,N,...]]
//
// Prefill times one forward step over --prompt tokens; decode times --gen
// single-token steps after it (greedy). With --batch B > 1 it also times
// decode steps of B sequences at once (aggregate tokens/s). Each figure is the
// best of --reps runs. Token ids are fixed pseudo-random values. --devices
// splits the layers across the listed devices (evenly, or as --layer-split
// says); the figures are then those of the whole split.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/cpu_features.hpp"
#include "engine/cpu/thread_pool.hpp"
#include "engine/model/model.hpp"
#include "engine/backend/backend_factory.hpp"

using namespace llmd;
using namespace llmd::engine;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of the whole process (all threads), to tell a slow kernel from a
// machine that is busy with other work.
double process_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void usage() {
  std::fprintf(stderr,
               "usage: llmd-bench -m FILE [--threads K] [--prompt N] [--gen N] [--batch B] [--reps R]\n"
               "                  [--isa scalar|avx2|avx512] [--kv f16|f32] [--json] [--backend cpu|cuda[:N]]\n"
               "                  [--devices cpu:0,cpu:1,... [--layer-split N,N,...]]\n");
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, isa, kv = "f16", backend_name = "cpu";
  int threads = 0, prompt = 128, gen = 32, batch = 1, reps = 3;
  bool json = false;
  std::vector<std::string> devices;
  std::vector<int32_t> layer_split;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-m" || a == "--model") path = next();
    else if (a == "--threads" || a == "-t") threads = std::atoi(next());
    else if (a == "--prompt") prompt = std::atoi(next());
    else if (a == "--gen") gen = std::atoi(next());
    else if (a == "--batch") batch = std::atoi(next());
    else if (a == "--reps") reps = std::atoi(next());
    else if (a == "--isa") isa = next();
    else if (a == "--kv") kv = next();
    else if (a == "--json") json = true;
    else if (a == "--backend") backend_name = next();
    else if (a == "--devices" || a == "--layer-split") {
      const char* v = next();
      Status st = ok_status();
      if (a == "--devices") {
        auto d = engine::parse_device_list(v);
        if (d) devices = std::move(*d);
        else st = d.take_error();
      } else {
        auto l = engine::parse_layer_split(v);
        if (l) layer_split = std::move(*l);
        else st = l.take_error();
      }
      if (!st) {
        std::fprintf(stderr, "llmd-bench: %s\n", st.error().message.c_str());
        return 2;
      }
    }
    else {
      usage();
      return 2;
    }
  }
  if (path.empty() || prompt < 1 || gen < 1 || batch < 1 || reps < 1 || (kv != "f16" && kv != "f32")) {
    usage();
    return 2;
  }

  auto t0 = Clock::now();
  auto model = Model::load(path);
  if (!model) {
    std::fprintf(stderr, "llmd-bench: %s\n", model.error().message.c_str());
    return 1;
  }
  const ModelConfig& cfg = (*model)->config();
  BackendOptions bo{.device = backend_name, .threads = threads, .isa = isa};
  bo.devices = devices;
  bo.layer_split = layer_split;
  auto backend = engine::make_backend(**model, bo);
  if (!backend) {
    std::fprintf(stderr, "llmd-bench: %s\n", backend.error().message.c_str());
    return 1;
  }
  const double load_s = seconds_since(t0);
  Backend& be = **backend;
  const int block = 16;
  const int per_seq = (prompt + gen + block) / block + 1;
  if (Status st = be.init_kv({.n_blocks = per_seq * std::max(batch, 1), .block_size = block,
                              .dtype = kv == "f32" ? KvDtype::f32 : KvDtype::f16});
      !st) {
    std::fprintf(stderr, "llmd-bench: %s\n", st.error().message.c_str());
    return 1;
  }

  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(batch));
  for (int s = 0; s < batch; ++s) {
    tables[static_cast<size_t>(s)].resize(static_cast<size_t>(per_seq));
    std::iota(tables[static_cast<size_t>(s)].begin(), tables[static_cast<size_t>(s)].end(), s * per_seq);
  }
  std::vector<int32_t> ids(static_cast<size_t>(prompt));
  uint32_t x = 12345;
  for (auto& id : ids) {
    x = x * 1664525u + 1013904223u;
    id = static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(cfg.n_vocab));
  }

  auto step = [&](ForwardBatch& b, ForwardOutput& out) {
    if (Status st = be.forward(b, &out); !st) {
      std::fprintf(stderr, "llmd-bench: %s\n", st.error().message.c_str());
      std::exit(1);
    }
  };

  double best_prefill = 1e30, best_decode = 1e30, best_batch = 1e30;
  double cpu_prefill = 0, cpu_decode = 0, cpu_batch = 0;  // process CPU seconds of the best runs
  ForwardOutput out;
  for (int rep = 0; rep < reps; ++rep) {
    // Prefill of sequence 0.
    ForwardBatch pb;
    pb.seqs.push_back({ids, 0, tables[0], LogitsMode::last});
    auto tp = Clock::now();
    double c0 = process_cpu_s();
    step(pb, out);
    if (seconds_since(tp) < best_prefill) {
      best_prefill = seconds_since(tp);
      cpu_prefill = process_cpu_s() - c0;
    }
    // Decode after it.
    int32_t tok = argmax(out.row(0));
    std::vector<int32_t> one(1);
    auto td = Clock::now();
    c0 = process_cpu_s();
    for (int i = 0; i < gen; ++i) {
      one[0] = tok;
      ForwardBatch db;
      db.seqs.push_back({one, prompt + i, tables[0], LogitsMode::last});
      step(db, out);
      tok = argmax(out.row(0));
    }
    if (seconds_since(td) < best_decode) {
      best_decode = seconds_since(td);
      cpu_decode = process_cpu_s() - c0;
    }
    if (batch > 1) {
      // B sequences: prefill each (untimed), then decode all together.
      ForwardBatch bp;
      for (int s = 0; s < batch; ++s) bp.seqs.push_back({ids, 0, tables[static_cast<size_t>(s)], LogitsMode::last});
      step(bp, out);
      std::vector<std::vector<int32_t>> toks(static_cast<size_t>(batch), std::vector<int32_t>(1));
      for (int s = 0; s < batch; ++s) toks[static_cast<size_t>(s)][0] = argmax(out.row(s));
      auto tb = Clock::now();
      c0 = process_cpu_s();
      for (int i = 0; i < gen; ++i) {
        ForwardBatch db;
        for (int s = 0; s < batch; ++s)
          db.seqs.push_back({toks[static_cast<size_t>(s)], prompt + i, tables[static_cast<size_t>(s)], LogitsMode::last});
        step(db, out);
        for (int s = 0; s < batch; ++s) toks[static_cast<size_t>(s)][0] = argmax(out.row(s));
      }
      if (seconds_since(tb) < best_batch) {
        best_batch = seconds_since(tb);
        cpu_batch = process_cpu_s() - c0;
      }
    }
  }

  const int n_threads = threads > 0 ? threads : cpu::ThreadPool::available_cores();
  const bool on_cpu = backend_name == "cpu";
  const std::string kernels = !on_cpu ? be.name() : isa.empty() ? cpu::isa_name(cpu::default_isa()) : isa;
  const double prefill_tok_s = prompt / best_prefill;
  const double decode_tok_s = gen / best_decode;
  const double batch_tok_s = batch > 1 ? static_cast<double>(batch) * gen / best_batch : 0.0;
  if (json) {
    std::printf(
        "{\"model\":\"%s\",\"arch\":\"%s\",\"weights_gib\":%.3f,\"threads\":%d,\"kernels\":\"%s\",\"kv\":\"%s\","
        "\"prompt\":%d,\"gen\":%d,\"load_s\":%.3f,\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f",
        json_escape(path).c_str(), json_escape(cfg.arch_name).c_str(), static_cast<double>((*model)->weight_bytes()) / (1 << 30), n_threads,
        kernels.c_str(), kv.c_str(), prompt, gen, load_s, prefill_tok_s, decode_tok_s);
    if (batch > 1) std::printf(",\"batch\":%d,\"batch_decode_tok_s\":%.2f", batch, batch_tok_s);
    if (!devices.empty()) std::printf(",\"backend\":\"%s\"", json_escape(be.name()).c_str());
    std::printf("}\n");
  } else {
    std::printf("model      %s (%s, %.2f GiB of weights)\n", path.c_str(), cfg.arch_name.c_str(),
                static_cast<double>((*model)->weight_bytes()) / (1 << 30));
    if (!devices.empty()) std::printf("backend    %s\n", be.name().c_str());
    std::printf("threads    %d   kernels %s   kv %s   load %.2f s   best of %d\n", n_threads, kernels.c_str(), kv.c_str(),
                load_s, reps);
    // cpu%: process CPU time over wall time; well below threads x 100 means
    // the machine was busy with other work during the run.
    std::printf("%-28s %12s %12s %8s\n", "test", "tokens/s", "ms/token", "cpu%");
    std::printf("%-28s %12.2f %12.2f %8.0f\n", ("prefill " + std::to_string(prompt)).c_str(), prefill_tok_s,
                1000.0 / prefill_tok_s, 100.0 * cpu_prefill / best_prefill);
    std::printf("%-28s %12.2f %12.2f %8.0f\n", ("decode " + std::to_string(gen)).c_str(), decode_tok_s,
                1000.0 / decode_tok_s, 100.0 * cpu_decode / best_decode);
    if (batch > 1) {
      std::printf("%-28s %12.2f %12.2f %8.0f\n",
                  ("decode " + std::to_string(gen) + " x " + std::to_string(batch) + " seqs").c_str(), batch_tok_s,
                  1000.0 / batch_tok_s, 100.0 * cpu_batch / best_batch);
    }
  }
  return 0;
}
