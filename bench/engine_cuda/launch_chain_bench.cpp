// What one launch of each batch-1 decode kernel costs inside a CUDA graph of
// many back-to-back launches (as in a replayed decode step), with and without
// programmatic dependent launch, next to the same kernel timed alone. The gap
// between "alone" and "in a graph" is launch and ramp overhead; the gap
// between plain and PDL is what overlapping a kernel's start with its
// predecessor's end recovers. Llama-3-8B shapes, bf16 weights; each GEMV
// launch in a chain reads a different copy of its matrix so that nothing is
// served from L2.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/engine_cuda/bench_util.hpp"
#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/kernels/launch.hpp"
#include "engine/cuda/kernels/rope_kv.hpp"

namespace llmd::bench {

using engine::cuda::DType;
using engine::cuda::GemvArgs;
using engine::cuda::GemvMode;

namespace {

constexpr int kChain = 64;  // launches per graph

// Median microseconds per launch of a graph of kChain launches of f(i).
double chain_us(cudaStream_t s, bool pdl, const std::function<void(int)>& f) {
  const engine::cuda::ProgrammaticLaunchScope scope(pdl);
  cudaGraph_t graph = nullptr;
  BENCH_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < kChain; ++i) f(i);
  BENCH_CUDA(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec = nullptr;
  BENCH_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  const double ms = time_ms(s, 2, 10, [&] { BENCH_CUDA(cudaGraphLaunch(exec, s)); });
  BENCH_CUDA(cudaGraphExecDestroy(exec));
  BENCH_CUDA(cudaGraphDestroy(graph));
  return ms * 1e3 / kChain;
}

struct Entry {
  std::string name;
  double bytes;  // weight bytes per launch (0: not a GEMV)
  std::function<void(int)> launch;
};

}  // namespace

void run_launch_chain(Report& rep, cudaStream_t s) {
  const int E = 4096, F = 14336, H = 32, Hkv = 8, hd = 128, bs = 16, ctx = 256;
  const int QKV = (H + 2 * Hkv) * hd;
  std::vector<void*> owned;
  auto alloc = [&](size_t bytes) {
    void* p = dalloc(bytes);
    owned.push_back(p);
    return p;
  };

  // Activations and small inputs.
  float* x = static_cast<float*>(alloc(static_cast<size_t>(E) * 4));
  float* norm_w = static_cast<float*>(alloc(static_cast<size_t>(E) * 4));
  void* xn = alloc(static_cast<size_t>(F) * 2);
  float* qkv = static_cast<float*>(alloc(static_cast<size_t>(QKV) * 4));
  float* y = static_cast<float*>(alloc(static_cast<size_t>(F) * 4));
  void* h = alloc(static_cast<size_t>(F) * 2);
  fill(x, DType::f32, E, -1, 1, 21, s);
  fill(norm_w, DType::f32, E, 0.5f, 1.5f, 22, s);
  fill(xn, DType::bf16, F, -1, 1, 23, s);
  fill(qkv, DType::f32, QKV, -1, 1, 24, s);

  // Weight copies: enough of each matrix that a chain streams > 3x the L2.
  int l2 = 0;
  BENCH_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  struct Mat {
    const char* name;
    int rows, k;
    GemvMode mode;
    std::vector<void*> copies;
  };
  Mat mats[] = {{"qkv", QKV, E, GemvMode::store, {}},
                {"o (+=)", E, H * hd, GemvMode::accumulate, {}},
                {"gate_up swiglu", F, E, GemvMode::swiglu, {}},
                {"down (+=)", E, F, GemvMode::accumulate, {}}};
  for (Mat& m : mats) {
    const size_t bytes = static_cast<size_t>(m.mode == GemvMode::swiglu ? 2 * m.rows : m.rows) * m.k * 2;
    const size_t n = std::min<size_t>(kChain, std::max<size_t>(2, 3 * static_cast<size_t>(l2) / bytes + 1));
    for (size_t i = 0; i < n; ++i) {
      m.copies.push_back(alloc(bytes));
      fill(m.copies.back(), DType::bf16, bytes / 2, -0.02f, 0.02f, 100 + i, s);
    }
  }

  // One sequence at position ctx-1 for RoPE/KV and attention.
  const int n_blk = ctx / bs + 1;
  const size_t half = static_cast<size_t>(n_blk) * Hkv * bs * hd;
  void* kc = alloc(half * 2);
  void* vc = alloc(half * 2);
  fill(kc, DType::f16, half, -1, 1, 31, s);
  fill(vc, DType::f16, half, -1, 1, 32, s);
  std::vector<int32_t> host_bt(static_cast<size_t>(n_blk));
  for (int i = 0; i < n_blk; ++i) host_bt[static_cast<size_t>(i)] = n_blk - 1 - i;
  auto* bt = static_cast<int32_t*>(alloc(host_bt.size() * 4));
  auto* pos = static_cast<int32_t*>(alloc(4));
  auto* seq = static_cast<int32_t*>(alloc(4));
  auto* split_len = static_cast<int32_t*>(alloc(4));
  const int32_t p_host = ctx - 1, s_host = 0;
  BENCH_CUDA(cudaMemcpy(bt, host_bt.data(), host_bt.size() * 4, cudaMemcpyHostToDevice));
  BENCH_CUDA(cudaMemcpy(pos, &p_host, 4, cudaMemcpyHostToDevice));
  BENCH_CUDA(cudaMemcpy(seq, &s_host, 4, cudaMemcpyHostToDevice));
  const int half_rot = hd / 2;
  auto* rope_cs = static_cast<float*>(alloc(static_cast<size_t>(ctx) * half_rot * 2 * 4));
  fill(rope_cs, DType::f32, static_cast<size_t>(ctx) * half_rot * 2, -1, 1, 33, s);
  float* q = static_cast<float*>(alloc(static_cast<size_t>(H) * hd * 4));
  void* attn_out = alloc(static_cast<size_t>(H) * hd * 2);
  int sms = 0;
  BENCH_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const auto split = engine::cuda::choose_attention_split(1, Hkv, 0, sms, 2048);
  const int32_t sl = engine::cuda::attention_split_len(ctx, split.n_splits);
  BENCH_CUDA(cudaMemcpy(split_len, &sl, 4, cudaMemcpyHostToDevice));
  float* part_o = static_cast<float*>(alloc(static_cast<size_t>(split.n_splits) * H * hd * 4));
  float* part_ml = static_cast<float*>(alloc(static_cast<size_t>(split.n_splits) * H * 2 * 4));
  BENCH_CUDA(cudaStreamSynchronize(s));

  engine::cuda::RopeKvArgs r;
  r.qkv = qkv;
  r.pos = pos;
  r.seq = seq;
  r.block_tables = bt;
  r.bt_stride = n_blk;
  r.rope_cs = rope_cs;
  r.q_out = q;
  r.k_cache = kc;
  r.v_cache = vc;
  r.n_tokens = 1;
  r.n_head = H;
  r.n_head_kv = Hkv;
  r.head_dim = hd;
  r.rope_dim = hd;
  r.block_size = bs;
  engine::cuda::AttnArgs a;
  a.q = q;
  a.k_cache = kc;
  a.v_cache = vc;
  a.pos = pos;
  a.seq = seq;
  a.block_tables = bt;
  a.bt_stride = n_blk;
  a.n_head = H;
  a.n_head_kv = Hkv;
  a.head_dim = hd;
  a.block_size = bs;
  a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  a.out = attn_out;
  a.out_type = DType::bf16;

  std::vector<Entry> entries;
  entries.push_back({"rmsnorm 1x4096", 0, [&](int) {
                       BENCH_CUDA(engine::cuda::launch_rmsnorm(x, nullptr, 1, E, norm_w, 1e-5f, xn, DType::bf16, s));
                     }});
  entries.push_back({"rope + kv store", 0, [&](int) { BENCH_CUDA(engine::cuda::launch_rope_kv(r, s)); }});
  entries.push_back({"attention ctx " + std::to_string(ctx) + " (" + std::to_string(split.n_splits) + " splits)", 0,
                     [&](int) {
                       BENCH_CUDA(engine::cuda::launch_attention_tokens(a, nullptr, 1, split.n_splits, split_len,
                                                                        part_o, part_ml, s));
                     }});
  engine::cuda::AttnArgs ar = a;  // RoPE and the K/V store inside the attention
  ar.rope = {qkv, nullptr, rope_cs, hd, false};
  entries.push_back({"attention + RoPE/KV (fused)", 0, [&](int) {
                       BENCH_CUDA(engine::cuda::launch_attention_tokens(ar, nullptr, 1, split.n_splits, split_len,
                                                                        part_o, part_ml, s));
                     }});
  struct Variant {
    const char* label;
    bool norm;
  };
  const Variant variants[] = {{"", false}, {" +norm", true}};
  for (const Mat& m : mats) {
    const double bytes = static_cast<double>(m.mode == GemvMode::swiglu ? 2 * m.rows : m.rows) * m.k * 2;
    for (const Variant& v : variants) {
      if (v.norm && m.k != E) continue;  // only the projections that follow a norm
      if (v.norm && m.mode == GemvMode::accumulate) continue;
      entries.push_back({std::string(m.name) + v.label, bytes, [&m, v, &x, &xn, &y, &h, norm_w, &s](int i) {
                           GemvArgs g;
                           g.w = m.copies[static_cast<size_t>(i) % m.copies.size()];
                           g.x = v.norm ? static_cast<const void*>(x) : xn;
                           g.norm_w = v.norm ? norm_w : nullptr;
                           g.rows = m.rows;
                           g.k = m.k;
                           g.y = m.mode == GemvMode::swiglu ? h : static_cast<void*>(y);
                           g.mode = m.mode;
                           BENCH_CUDA(engine::cuda::launch_gemv(g, s));
                         }});
    }
  }

  std::printf("\nbatch-1 decode kernels, us per launch: alone, and in a graph of %d launches plain / with PDL\n",
              kChain);
  std::printf("  %-26s %8s %8s %8s  %s\n", "kernel", "alone", "graph", "PDL", "GB/s (PDL)");
  for (const Entry& e : entries) {
    int i = 0;
    const double alone = time_ms(s, 3, 20, [&] { e.launch(i++ % kChain); }) * 1e3;
    const double plain = chain_us(s, false, e.launch);
    const double pdl = chain_us(s, true, e.launch);
    std::printf("  %-26s %8.1f %8.1f %8.1f", e.name.c_str(), alone, plain, pdl);
    if (e.bytes > 0) std::printf("  %6.0f", e.bytes / (pdl * 1e-6) / 1e9);
    std::printf("\n");
    rep.add_json("{\"bench\":\"launch_chain\",\"kernel\":\"" + e.name + "\",\"alone_us\":" + std::to_string(alone) +
                 ",\"graph_us\":" + std::to_string(plain) + ",\"pdl_us\":" + std::to_string(pdl) + "}");
  }
  for (void* p : owned) BENCH_CUDA(cudaFree(p));
}

}  // namespace llmd::bench
