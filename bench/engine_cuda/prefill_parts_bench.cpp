// The kernels of a 2048-token prefill step other than the GEMMs and the
// attention, alone at Llama-3-8B shapes: what the model benchmark reports as
// "the rest". Each is timed with the bytes it must move (inputs read once,
// outputs written once) over the copy rate, so a kernel far from that floor
// shows.
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/engine_cuda/bench_util.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/rope_kv.hpp"

namespace llmd::bench {

using engine::cuda::DType;

void run_prefill_parts(Report& rep, Ceilings& c, cudaStream_t s) {
  const int T = 2048, E = 4096, F = 14336, H = 32, Hkv = 8, hd = 128, bs = 16, V = 128256;
  const size_t QKV = static_cast<size_t>(H + 2 * Hkv) * hd;

  float* x = static_cast<float*>(dalloc(static_cast<size_t>(T) * E * 4));
  void* xn = dalloc(static_cast<size_t>(T) * E * 2);
  float* norm_w = static_cast<float*>(dalloc(static_cast<size_t>(E) * 4));
  void* gu = dalloc(static_cast<size_t>(T) * 2 * F * 2);
  void* h = dalloc(static_cast<size_t>(T) * F * 2);
  float* qkv = static_cast<float*>(dalloc(static_cast<size_t>(T) * QKV * 4));
  float* q = static_cast<float*>(dalloc(static_cast<size_t>(T) * H * hd * 4));
  const int n_blk = T / bs;
  const size_t half = static_cast<size_t>(n_blk) * Hkv * bs * hd;
  void* kc = dalloc(half * 2);
  void* vc = dalloc(half * 2);
  float* cs = static_cast<float*>(dalloc(static_cast<size_t>(T) * hd * 4));
  void* table = dalloc(static_cast<size_t>(V) * E * 2);
  fill(x, DType::f32, static_cast<size_t>(T) * E, -1, 1, 41, s);
  fill(norm_w, DType::f32, E, 0.5f, 1.5f, 42, s);
  fill(gu, DType::bf16, static_cast<size_t>(T) * 2 * F, -3, 3, 43, s);
  fill(qkv, DType::f32, static_cast<size_t>(T) * QKV, -1, 1, 44, s);
  fill(cs, DType::f32, static_cast<size_t>(T) * hd, -1, 1, 45, s);
  fill(table, DType::bf16, static_cast<size_t>(V) * E, -1, 1, 46, s);
  std::vector<int32_t> host_pos(T), host_seq(T, 0), host_bt(n_blk), host_tok(T);
  for (int i = 0; i < T; ++i) {
    host_pos[static_cast<size_t>(i)] = i;
    host_tok[static_cast<size_t>(i)] = static_cast<int32_t>((static_cast<long>(i) * 7919) % V);
  }
  for (int i = 0; i < n_blk; ++i) host_bt[static_cast<size_t>(i)] = n_blk - 1 - i;
  auto upload = [&](const std::vector<int32_t>& v) {
    auto* d = static_cast<int32_t*>(dalloc(v.size() * 4));
    BENCH_CUDA(cudaMemcpy(d, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
    return d;
  };
  int32_t* pos = upload(host_pos);
  int32_t* seq = upload(host_seq);
  int32_t* bt = upload(host_bt);
  int32_t* tok = upload(host_tok);
  BENCH_CUDA(cudaStreamSynchronize(s));

  engine::cuda::RopeKvArgs r;
  r.qkv = qkv;
  r.pos = pos;
  r.seq = seq;
  r.block_tables = bt;
  r.bt_stride = n_blk;
  r.rope_cs = cs;
  r.q_out = q;
  r.k_cache = kc;
  r.v_cache = vc;
  r.n_tokens = T;
  r.n_head = H;
  r.n_head_kv = Hkv;
  r.head_dim = hd;
  r.rope_dim = hd;
  r.block_size = bs;

  struct Part {
    const char* name;
    int per_layer;  // launches per layer (0: once per step)
    double bytes;
    std::function<void()> run;
  };
  const double tE = static_cast<double>(T) * E;
  const std::vector<Part> parts = {
      {"rmsnorm f32 -> bf16", 2, tE * 4 + tE * 2,
       [&] { BENCH_CUDA(engine::cuda::launch_rmsnorm(x, nullptr, T, E, norm_w, 1e-5f, xn, DType::bf16, s)); }},
      {"rope + kv store", 1, static_cast<double>(T) * (QKV * 4 + H * hd * 4 + 2.0 * Hkv * hd * 2),
       [&] { BENCH_CUDA(engine::cuda::launch_rope_kv(r, s)); }},
      {"swiglu bf16 -> bf16", 1, static_cast<double>(T) * F * (2 * 2 + 2),
       [&] { BENCH_CUDA(engine::cuda::launch_swiglu(gu, DType::bf16, T, F, h, DType::bf16, s)); }},
      {"embedding gather", 0, tE * 2 + tE * 4,
       [&] { BENCH_CUDA(engine::cuda::launch_embed(table, DType::bf16, tok, T, E, x, s)); }},
  };
  std::printf("prefill kernels besides GEMMs and attention, %d tokens (floor: bytes over the copy rate):\n", T);
  std::printf("  %-22s %9s %9s %9s %7s\n", "kernel", "us", "GB/s", "floor us", "x32");
  double per_step_ms = 0;
  for (const Part& p : parts) {
    const double ms = time_ms(s, 3, 20, p.run);
    const double floor_us = c.copy_gbs > 0 ? p.bytes / (c.copy_gbs * 1e9) * 1e6 : 0;
    const double step_ms = ms * (p.per_layer > 0 ? 32.0 * p.per_layer : 1.0);
    per_step_ms += step_ms;
    std::printf("  %-22s %9.1f %9.0f %9.1f %6.2fms\n", p.name, ms * 1e3, p.bytes / (ms * 1e-3) / 1e9, floor_us,
                step_ms);
    rep.add_json("{\"bench\":\"prefill_part\",\"name\":\"" + std::string(p.name) + "\",\"us\":" +
                 std::to_string(ms * 1e3) + ",\"floor_us\":" + std::to_string(floor_us) + "}");
  }
  std::printf("  per 32-layer prefill step (norms x2, RoPE/KV, SwiGLU per layer; one embedding): %.2f ms\n\n",
              per_step_ms);
  c.prefill_other_ms = per_step_ms;
  for (void* p : {static_cast<void*>(x), xn, static_cast<void*>(norm_w), gu, h, static_cast<void*>(qkv),
                  static_cast<void*>(q), kc, vc, static_cast<void*>(cs), table, static_cast<void*>(pos),
                  static_cast<void*>(seq), static_cast<void*>(bt), static_cast<void*>(tok)}) {
    BENCH_CUDA(cudaFree(p));
  }
}

}  // namespace llmd::bench
