// Timing and reporting helpers of llmd-cuda-bench.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/cuda/dtype.hpp"
#include "engine/cuda/kernels/elementwise.hpp"

namespace llmd::bench {

// Aborts the benchmark with a message when a CUDA call fails (a benchmark has
// nothing sensible to continue with).
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "llmd-cuda-bench: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
#define BENCH_CUDA(expr) ::llmd::bench::check((expr), #expr)

inline void* dalloc(size_t bytes) {
  void* p = nullptr;
  BENCH_CUDA(cudaMalloc(&p, bytes));
  return p;
}

// n random values of type t, uniform in [lo, hi), generated on the device.
inline void fill(void* p, engine::cuda::DType t, size_t n, float lo, float hi, uint64_t seed, cudaStream_t s) {
  BENCH_CUDA(engine::cuda::launch_fill_random(p, t, n, lo, hi, seed, s));
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median milliseconds of `reps` runs of f on `stream`, timed with events,
// after `warmup` untimed runs.
inline double time_ms(cudaStream_t stream, int warmup, int reps, const std::function<void()>& f) {
  cudaEvent_t a, b;
  BENCH_CUDA(cudaEventCreate(&a));
  BENCH_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < warmup; ++i) f();
  BENCH_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    BENCH_CUDA(cudaEventRecord(a, stream));
    f();
    BENCH_CUDA(cudaEventRecord(b, stream));
    BENCH_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    BENCH_CUDA(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  BENCH_CUDA(cudaGetLastError());
  BENCH_CUDA(cudaEventDestroy(a));
  BENCH_CUDA(cudaEventDestroy(b));
  return median(t);
}

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One line of the final table.
struct Row {
  std::string metric;
  double value = 0;
  std::string unit;
  std::string reference;  // limit or target it is judged against ("" if none)
  std::string verdict;    // "PASS", "MISS" or ""
};

struct Report {
  std::vector<Row> rows;
  std::vector<std::string> json;  // one JSON object per measurement

  void add(Row r) { rows.push_back(std::move(r)); }
  void add_json(const std::string& obj) { json.push_back(obj); }
};

// Results shared between the micro and model benchmarks.
struct Ceilings {
  double copy_gbs = 0;     // device-to-device copy, bytes read + written per second / 1e9
  double gemm_tflops = 0;  // cuBLASLt bf16 8192^3
  // Llama-3-8B parts, for the model benchmark's time breakdown (0 = not measured):
  double prefill_layer_gemm_ms = 0;  // qkv + o + gate_up + down at 2048 tokens (heuristic choice)
  double prefill_attention_ms = 0;   // one layer's causal attention over 2048 tokens
  double prefill_other_ms = 0;       // norms, RoPE/KV, SwiGLU of 32 layers and the embedding, 2048 tokens
  double decode_layer_gemv_ms = 0;   // qkv + o + gate_up/SwiGLU + down GEMVs at batch 1
  double decode_head_gemv_ms = 0;    // output head GEMV at batch 1
};

}  // namespace llmd::bench
