// llmd-cuda-bench: measures the device's ceilings (copy bandwidth, cuBLASLt
// bf16 matrix rate), the CUDA kernels at Llama-3-8B shapes, and the CUDA
// backend on a real-shape model; prints a table last, judged against the
// targets (batch-1 decode >= 80% of the bandwidth limit, batch-64 decode
// >= 3000 tok/s, prefill >= 60% of the matrix rate).
//
//   llmd-cuda-bench [--shape NAME | --model FILE.gguf] [--type bf16|f16]
//                   [--prompt N] [--gen N] [--batch N] [--prefill N]
//                   [--no-micro] [--no-model] [--no-graphs] [--pdl | --no-pdl]
//                   [--gate-up-16bit | --gate-up-f32] [--fuse-norm | --no-fuse-norm]
//                   [--fuse-rope | --no-fuse-rope] [--prefill-pipelined | --prefill-single]
//                   [--tune | --no-tune] [--quant-gemm-max-tokens N] [--attn-split-keys N]
//                   [--kv-dtype f16|q8_0] [--copy-gbs GBS] [--json FILE]
//
// --copy-gbs gives a run without the micro benchmarks the copy rate (GB/s)
// measured by an earlier one, so its decode figures are still set against
// their byte floor.
//
// The model runs with the backend's default options unless told otherwise:
// --pdl launches its kernels with programmatic dependent launch; --gate-up-*
// picks the FFN gate/up GEMM output type; --fuse-norm folds RMSNorm into the
// decode GEMVs; --fuse-rope leaves RoPE and the K/V store of decode steps to
// the attention kernel; --prefill-single runs the prefill attention with one
// K/V buffer, head by head (the kernel it replaced); --tune times cuBLASLt's
// candidates for the prefill GEMMs at creation (--no-tune keeps the
// heuristic's first choice); --quant-gemm-max-tokens sets the largest step
// that multiplies quantized weights with the tensor-core kernel (0: the
// dequantized scratch and cuBLASLt above the GEMVs' 8 tokens);
// --attn-split-keys the piece of a long context one attention block takes
// in decode steps (0: split only to fill the device); --kv-dtype q8_0 keeps
// the KV-cache in q8_0 (per-token attention for every token).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "bench/engine_cuda/bench_util.hpp"
#include "bench/engine_cuda/model_bench.hpp"
#include "engine/cuda/device_info.hpp"

namespace llmd::bench {
Ceilings run_micro(Report& rep, cudaStream_t s);
void run_prefill_parts(Report& rep, Ceilings& c, cudaStream_t s);
void run_launch_chain(Report& rep, cudaStream_t s);
}

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: llmd-cuda-bench [--shape NAME | --model FILE.gguf] [--type bf16|f16] [--prompt N] [--gen N]\n"
               "                       [--batch N] [--prefill N] [--no-micro] [--no-model] [--no-graphs]\n"
               "                       [--pdl | --no-pdl] [--gate-up-16bit | --gate-up-f32]\n"
               "                       [--fuse-norm | --no-fuse-norm] [--fuse-rope | --no-fuse-rope]\n"
               "                       [--prefill-pipelined | --prefill-single]\n"
               "                       [--tune | --no-tune] [--quant-gemm-max-tokens N] [--attn-split-keys N]\n"
               "                       [--kv-dtype f16|q8_0] [--copy-gbs GBS] [--json FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace llmd::bench;
  ModelBenchOptions mo;
  bool micro = true, model = true;
  double copy_gbs = 0.0;  // --copy-gbs: a copy rate measured earlier, for --no-micro runs
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto next_int = [&](int* out) {
      const char* v = next();
      if (!v) return false;
      *out = std::atoi(v);
      return *out > 0;
    };
    if (a == "--shape") {
      const char* v = next();
      if (!v) return usage();
      mo.shape = v;
    } else if (a == "--model") {
      const char* v = next();
      if (!v) return usage();
      mo.file = v;
    } else if (a == "--type") {
      const char* v = next();
      if (!v) return usage();
      if (std::strcmp(v, "bf16") == 0) mo.type = llmd::engine::cuda::DType::bf16;
      else if (std::strcmp(v, "f16") == 0) mo.type = llmd::engine::cuda::DType::f16;
      else return usage();
    } else if (a == "--prompt") {
      if (!next_int(&mo.prompt)) return usage();
    } else if (a == "--gen") {
      if (!next_int(&mo.gen) || mo.gen < 16) return usage();
    } else if (a == "--batch") {
      if (!next_int(&mo.batch)) return usage();
    } else if (a == "--prefill") {
      if (!next_int(&mo.prefill)) return usage();
    } else if (a == "--no-micro") {
      micro = false;
    } else if (a == "--no-model") {
      model = false;
    } else if (a == "--no-graphs") {
      mo.graphs = false;
    } else if (a == "--pdl" || a == "--no-pdl") {
      mo.backend.programmatic_launch = a == "--pdl";
    } else if (a == "--gate-up-16bit" || a == "--gate-up-f32") {
      mo.backend.gate_up_16bit = a == "--gate-up-16bit";
    } else if (a == "--fuse-norm" || a == "--no-fuse-norm") {
      mo.backend.fuse_norm_gemv = a == "--fuse-norm";
    } else if (a == "--fuse-rope" || a == "--no-fuse-rope") {
      mo.backend.fuse_rope_decode = a == "--fuse-rope";
    } else if (a == "--prefill-pipelined" || a == "--prefill-single") {
      mo.backend.prefill_pipelined = a == "--prefill-pipelined";
    } else if (a == "--tune" || a == "--no-tune") {
      mo.backend.tune_gemms = a == "--tune";
    } else if (a == "--quant-gemm-max-tokens") {
      const char* v = next();
      if (!v || (mo.backend.quant_gemm_max_tokens = std::atoi(v)) < 0) return usage();
    } else if (a == "--attn-split-keys") {
      const char* v = next();
      if (!v || (mo.backend.attn_split_keys = std::atoi(v)) < 0) return usage();
    } else if (a == "--kv-dtype") {
      const char* v = next();
      if (!v || (std::strcmp(v, "f16") != 0 && std::strcmp(v, "q8_0") != 0)) return usage();
      mo.kv_dtype = std::strcmp(v, "q8_0") == 0 ? llmd::engine::KvDtype::q8_0 : llmd::engine::KvDtype::f16;
    } else if (a == "--copy-gbs") {
      const char* v = next();
      if (!v || (copy_gbs = std::atof(v)) <= 0.0) return usage();
    } else if (a == "--json") {
      const char* v = next();
      if (!v) return usage();
      json_path = v;
    } else {
      return usage();
    }
  }

  auto dev = llmd::engine::cuda::device_info(0);
  if (!dev) {
    std::fprintf(stderr, "llmd-cuda-bench: %s\n", dev.error().message.c_str());
    return 1;
  }
  std::printf("device: %s; CUDA runtime %s, driver %s\n\n", llmd::engine::cuda::describe(*dev).c_str(),
              llmd::engine::cuda::cuda_runtime_version().c_str(), llmd::engine::cuda::cuda_driver_version().c_str());
  BENCH_CUDA(cudaSetDevice(0));
  cudaStream_t s;
  BENCH_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  Report rep;
  Ceilings c;
  if (micro) {
    c = run_micro(rep, s);
    run_prefill_parts(rep, c, s);
    run_launch_chain(rep, s);
  } else {
    c.copy_gbs = copy_gbs;  // the decode floors without measuring again
  }
  if (model) run_model(rep, c, mo);

  std::printf("\n== llmd-cuda-bench: %s\n", llmd::engine::cuda::describe(*dev).c_str());
  std::printf("%-42s %12s %-9s %-30s %s\n", "metric", "value", "unit", "judged against", "");
  for (const Row& r : rep.rows) {
    std::printf("%-42s %12.1f %-9s %-30s %s\n", r.metric.c_str(), r.value, r.unit.c_str(), r.reference.c_str(),
                r.verdict.c_str());
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << "{\"device\":\"" << dev->name << "\",\"results\":[";
    for (size_t i = 0; i < rep.json.size(); ++i) out << (i ? "," : "") << rep.json[i];
    out << "]}\n";
  }
  BENCH_CUDA(cudaStreamDestroy(s));
  return 0;
}
