// The model part of llmd-cuda-bench.
#pragma once

#include <string>

#include "bench/engine_cuda/bench_util.hpp"
#include "engine/cuda/cuda_backend.hpp"
#include "engine/cuda/dtype.hpp"

namespace llmd::bench {

struct ModelBenchOptions {
  std::string shape = "llama-3-8b";  // a synth shape (random weights on the device)
  std::string file;                  // or a GGUF file
  engine::cuda::DType type = engine::cuda::DType::bf16;
  int prompt = 128;    // prompt tokens of the decode runs
  int gen = 128;       // decode steps
  int batch = 64;      // sequences of the batched decode run
  int prefill = 2048;  // tokens of the prefill run
  bool graphs = true;
  engine::KvDtype kv_dtype = engine::KvDtype::f16;  // the KV-cache's type (f16 or q8_0)
  // Backend options (the sizes are set from the fields above).
  engine::cuda::CudaBackendOptions backend;
};

void run_model(Report& rep, const Ceilings& ceil, const ModelBenchOptions& o);

}  // namespace llmd::bench
