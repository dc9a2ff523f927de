// Device ceilings and kernels at Llama-3-8B shapes: copy bandwidth, cuBLASLt
// bf16 rate (heuristic choice vs the best candidate), decode GEMV against
// cuBLASLt, decode GEMV from quantized weights, paged attention.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/engine_cuda/bench_util.hpp"
#include "engine/cuda/device_pool.hpp"
#include "engine/cuda/gemm_lt.hpp"
#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/kernels/gemv_quant.hpp"
#include "engine/quant/device_layout.hpp"

namespace llmd::bench {

using engine::cuda::DType;

namespace {

double copy_bandwidth(cudaStream_t s) {
  const size_t bytes = size_t{1} << 30;
  void* a = dalloc(bytes);
  void* b = dalloc(bytes);
  fill(a, DType::f32, bytes / 4, -1, 1, 1, s);
  const double ms = time_ms(s, 3, 20, [&] { BENCH_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s)); });
  BENCH_CUDA(cudaFree(a));
  BENCH_CUDA(cudaFree(b));
  return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

struct GemmShape {
  std::string name;
  int m, n, k;
  DType y;
  bool acc;
};

}  // namespace

Ceilings run_micro(Report& rep, cudaStream_t s) {
  Ceilings c;
  engine::cuda::DeviceHealth health;
  void* ws = dalloc(size_t{32} << 20);
  engine::cuda::LtGemm gemm(&health);
  if (!gemm.init(ws, size_t{32} << 20).ok()) {
    std::fprintf(stderr, "llmd-cuda-bench: cuBLASLt init failed\n");
    std::exit(1);
  }

  // --- Copy bandwidth ------------------------------------------------------
  c.copy_gbs = copy_bandwidth(s);
  std::printf("device-to-device copy: %.0f GB/s (bytes read + written)\n", c.copy_gbs);
  rep.add({"device copy bandwidth (read+write)", c.copy_gbs, "GB/s", "", ""});
  rep.add_json("{\"bench\":\"copy\",\"gbs\":" + std::to_string(c.copy_gbs) + "}");

  // --- GEMM rate -----------------------------------------------------------
  {
    const int n = 8192;
    const size_t el = static_cast<size_t>(n) * n;
    void* a = dalloc(el * 2);
    void* b = dalloc(el * 2);
    void* y = dalloc(el * 2);
    fill(a, DType::bf16, el, -1, 1, 2, s);
    fill(b, DType::bf16, el, -1, 1, 3, s);
    engine::cuda::GemmArgs g{a, DType::bf16, b, DType::bf16, y, DType::bf16, n, n, n, false};
    auto cnt = gemm.candidate_count(g);
    double best = 0;
    int best_i = 0;
    const int count = cnt.ok() ? *cnt : 0;
    for (int i = 0; i < count; ++i) {
      const double ms = time_ms(s, 2, 10, [&] {
        if (!gemm.run_candidate(g, i, s).ok()) std::exit(1);
      });
      const double tf = 2.0 * n * n * static_cast<double>(n) / (ms * 1e-3) / 1e12;
      std::printf("cuBLASLt bf16 %d^3 candidate %d: %.3f ms, %.0f TFLOP/s\n", n, i, ms, tf);
      if (i == 0) c.gemm_tflops = tf;
      if (tf > best) best = tf, best_i = i;
    }
    std::printf("cuBLASLt bf16 %d^3: heuristic %.0f TFLOP/s, best candidate #%d %.0f TFLOP/s\n", n, c.gemm_tflops,
                best_i, best);
    c.gemm_tflops = std::max(c.gemm_tflops, best);
    rep.add({"cuBLASLt bf16 GEMM 8192^3 (random data)", c.gemm_tflops, "TFLOP/s", "", ""});
    rep.add_json("{\"bench\":\"gemm8192\",\"tflops\":" + std::to_string(c.gemm_tflops) + "}");
    BENCH_CUDA(cudaFree(a));
    BENCH_CUDA(cudaFree(b));
    BENCH_CUDA(cudaFree(y));
  }

  // --- Prefill GEMM shapes: heuristic vs best ------------------------------
  // The prefill's four projections at 2,048 tokens, then the same matrices
  // at decode batch sizes (batches above the GEMV's few tokens take
  // cuBLASLt): there the weights' bytes, not the FLOPs, set the floor, so
  // the table also prints GB/s of weights read at the heuristic's choice.
  std::vector<GemmShape> shapes = {{"qkv", 6144, 2048, 4096, DType::f32, false},
                                   {"o", 4096, 2048, 4096, DType::f32, true},
                                   {"gate_up", 28672, 2048, 4096, DType::f32, false},
                                   {"down", 4096, 2048, 14336, DType::f32, true}};
  for (const int batch : {8, 16, 32, 64, 128, 256}) {
    const std::string b = " b" + std::to_string(batch);
    shapes.push_back({"qkv" + b, 6144, batch, 4096, DType::f32, false});
    shapes.push_back({"o" + b, 4096, batch, 4096, DType::f32, true});
    shapes.push_back({"gate_up" + b, 28672, batch, 4096, DType::f32, false});
    shapes.push_back({"down" + b, 4096, batch, 14336, DType::f32, true});
  }
  std::printf("\nprefill/batch GEMMs (llama-3-8b shapes, bf16 in, f32 accumulate):\n");
  std::printf("  %-14s %6s %6s %6s  %10s %10s  %-9s %10s\n", "shape", "m", "n", "k", "heur TF/s", "best TF/s", "best#",
              "heur GB/s");
  for (const GemmShape& sh : shapes) {
    const size_t wn = static_cast<size_t>(sh.m) * sh.k, xn = static_cast<size_t>(sh.n) * sh.k,
                 yn = static_cast<size_t>(sh.n) * sh.m;
    void* w = dalloc(wn * 2);
    void* x = dalloc(xn * 2);
    void* y = dalloc(yn * 4);
    fill(w, DType::bf16, wn, -0.02f, 0.02f, 4, s);
    fill(x, DType::bf16, xn, -1, 1, 5, s);
    fill(y, DType::f32, yn, -1, 1, 6, s);
    engine::cuda::GemmArgs g{w, DType::bf16, x, DType::bf16, y, sh.y, sh.m, sh.n, sh.k, sh.acc};
    auto cnt = gemm.candidate_count(g);
    const int count = cnt.ok() ? *cnt : 0;
    double heur = 0, best = 0;
    int best_i = 0;
    for (int i = 0; i < count; ++i) {
      const double ms = time_ms(s, 2, 8, [&] {
        if (!gemm.run_candidate(g, i, s).ok()) std::exit(1);
      });
      const double tf = 2.0 * sh.m * static_cast<double>(sh.n) * sh.k / (ms * 1e-3) / 1e12;
      if (i == 0) heur = tf;
      if (tf > best) best = tf, best_i = i;
    }
    // Weights read once per product: 2 bytes each.
    const double heur_gbs = heur > 0 ? heur * 1e12 / (2.0 * sh.n) * 2.0 / 1e9 : 0.0;
    char best_of[32];
    std::snprintf(best_of, sizeof best_of, "#%d of %d", best_i, count);
    std::printf("  %-14s %6d %6d %6d  %10.0f %10.0f  %-9s %10.0f\n", sh.name.c_str(), sh.m, sh.n, sh.k, heur, best,
                best_of, heur_gbs);
    if (sh.n == 2048 && heur > 0) c.prefill_layer_gemm_ms += 2.0 * sh.m * static_cast<double>(sh.n) * sh.k / (heur * 1e12) * 1e3;
    rep.add_json("{\"bench\":\"gemm_shape\",\"name\":\"" + sh.name + "\",\"heuristic_tflops\":" +
                 std::to_string(heur) + ",\"best_tflops\":" + std::to_string(best) +
                 ",\"heuristic_weight_gbs\":" + std::to_string(heur_gbs) + "}");
    BENCH_CUDA(cudaFree(w));
    BENCH_CUDA(cudaFree(x));
    BENCH_CUDA(cudaFree(y));
  }

  // --- Decode projections: GEMV kernel vs cuBLASLt ---------------------------
  struct VShape {
    const char* name;
    int rows, k;
    engine::cuda::GemvMode mode;
  };
  const VShape vshapes[] = {{"qkv", 6144, 4096, engine::cuda::GemvMode::store},
                            {"o (+=)", 4096, 4096, engine::cuda::GemvMode::accumulate},
                            {"gate_up swiglu", 14336, 4096, engine::cuda::GemvMode::swiglu},
                            {"down (+=)", 4096, 14336, engine::cuda::GemvMode::accumulate},
                            {"lm head", 128256, 4096, engine::cuda::GemvMode::store}};
  std::printf("\ndecode projections (bf16 weights): GEMV kernel vs cuBLASLt, GB/s of weights read\n");
  std::printf("  %-15s %4s  %9s %9s\n", "shape", "n", "GEMV", "cuBLASLt");
  for (const VShape& v : vshapes) {
    const int wrows = v.mode == engine::cuda::GemvMode::swiglu ? 2 * v.rows : v.rows;
    const size_t wn = static_cast<size_t>(wrows) * v.k;
    void* w = dalloc(wn * 2);
    void* x = dalloc(static_cast<size_t>(16) * v.k * 2);
    void* y = dalloc(static_cast<size_t>(16) * wrows * 4);
    fill(w, DType::bf16, wn, -0.02f, 0.02f, 7, s);
    fill(x, DType::bf16, static_cast<size_t>(16) * v.k, -1, 1, 8, s);
    fill(y, DType::f32, static_cast<size_t>(16) * wrows, -1, 1, 9, s);
    for (int n : {1, 2, 4, 8, 16}) {
      double g_gbs = 0;
      if (engine::cuda::gemv_supported(DType::bf16, v.k, n)) {
        const double ms = time_ms(s, 3, 20, [&] {
          BENCH_CUDA(engine::cuda::launch_gemv(w, DType::bf16, x, n, v.rows, v.k, y, v.mode, s));
        });
        g_gbs = static_cast<double>(wn) * 2 / (ms * 1e-3) / 1e9;
        if (n == 1) {
          if (v.rows == 128256) c.decode_head_gemv_ms = ms;
          else c.decode_layer_gemv_ms += ms;
        }
      }
      engine::cuda::GemmArgs g{w, DType::bf16, x, DType::bf16, y,
                               DType::f32,
                               wrows, n, v.k, v.mode == engine::cuda::GemvMode::accumulate};
      const double ms = time_ms(s, 3, 20, [&] {
        if (!gemm.run(g, s).ok()) std::exit(1);
      });
      const double l_gbs = static_cast<double>(wn) * 2 / (ms * 1e-3) / 1e9;
      std::printf("  %-15s %4d  %9.0f %9.0f\n", v.name, n, g_gbs, l_gbs);
      rep.add_json("{\"bench\":\"decode_proj\",\"name\":\"" + std::string(v.name) + "\",\"n\":" + std::to_string(n) +
                   ",\"gemv_gbs\":" + std::to_string(g_gbs) + ",\"cublaslt_gbs\":" + std::to_string(l_gbs) + "}");
    }
    BENCH_CUDA(cudaFree(w));
    BENCH_CUDA(cudaFree(x));
    BENCH_CUDA(cudaFree(y));
  }

  // --- Decode projections from quantized weights in the device layout ---------
  std::printf("\ndecode projections (weights kept quantized): GEMV, GB/s of quantized bytes read\n");
  std::printf("  %-6s %-15s %4s  %9s\n", "type", "shape", "n", "GEMV");
  for (const gguf::GgmlType type : {gguf::GgmlType::Q8_0, gguf::GgmlType::Q4_0, gguf::GgmlType::Q4_K,
                                    gguf::GgmlType::Q5_K, gguf::GgmlType::Q6_K}) {
    const std::string type_name(gguf::ggml_type_name(type));
    for (const VShape& v : vshapes) {
      const int wrows = v.mode == engine::cuda::GemvMode::swiglu ? 2 * v.rows : v.rows;  // gate and up as one store
      const engine::cuda::GemvMode mode =
          v.mode == engine::cuda::GemvMode::swiglu ? engine::cuda::GemvMode::store : v.mode;
      auto layout = quant::device_layout(type, wrows, v.k);
      if (!layout) std::exit(1);
      void* w = dalloc(layout->total_bytes);
      void* x = dalloc(static_cast<size_t>(16) * v.k * 2);
      void* y = dalloc(static_cast<size_t>(16) * wrows * 4);
      // Any bytes do for timing; as f16 in [-1, 1] every block scale is finite.
      fill(w, DType::f16, layout->total_bytes / 2, -1, 1, 11, s);
      fill(x, DType::f16, static_cast<size_t>(16) * v.k, -1, 1, 13, s);
      fill(y, DType::f32, static_cast<size_t>(16) * wrows, -1, 1, 14, s);
      for (int n : {1, 2, 4, 8}) {
        const auto a = engine::cuda::make_gemv_quant_args(*layout, w, x, DType::f16, n, static_cast<float*>(y), mode);
        const double ms = time_ms(s, 3, 20, [&] { BENCH_CUDA(engine::cuda::launch_gemv_quant(a, s)); });
        const double gbs = static_cast<double>(layout->file_bytes()) / (ms * 1e-3) / 1e9;
        std::printf("  %-6s %-15s %4d  %9.0f\n", type_name.c_str(), v.name, n, gbs);
        rep.add_json("{\"bench\":\"decode_proj_" + type_name + "\",\"name\":\"" + std::string(v.name) +
                     "\",\"n\":" + std::to_string(n) + ",\"gemv_gbs\":" + std::to_string(gbs) + "}");
      }
      BENCH_CUDA(cudaFree(w));
      BENCH_CUDA(cudaFree(x));
      BENCH_CUDA(cudaFree(y));
    }
  }

  // --- Attention -----------------------------------------------------------
  {
    const int H = 32, Hkv = 8, hd = 128, bs = 16;
    const int n_ctx = 2048, n_seq = 64;
    const int n_blocks = n_seq * (n_ctx / bs);
    const size_t half = static_cast<size_t>(n_blocks) * Hkv * bs * hd;
    void* kc = dalloc(half * 2);
    void* vc = dalloc(half * 2);
    fill(kc, DType::f16, half, -1, 1, 10, s);
    fill(vc, DType::f16, half, -1, 1, 11, s);
    const int T = n_ctx;  // rows of q for the prefill case
    float* q = static_cast<float*>(dalloc(static_cast<size_t>(std::max(T, n_seq)) * H * hd * 4));
    fill(q, DType::f32, static_cast<size_t>(std::max(T, n_seq)) * H * hd, -1, 1, 12, s);
    void* out = dalloc(static_cast<size_t>(std::max(T, n_seq)) * H * hd * 2);
    std::vector<int32_t> bt(static_cast<size_t>(n_seq) * (n_ctx / bs));
    for (size_t i = 0; i < bt.size(); ++i) bt[i] = static_cast<int32_t>((i * 7919) % bt.size());
    int32_t* d_bt = static_cast<int32_t*>(dalloc(bt.size() * 4));
    BENCH_CUDA(cudaMemcpy(d_bt, bt.data(), bt.size() * 4, cudaMemcpyHostToDevice));
    // Prefill: one sequence of 2048 new tokens.
    std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T), 0);
    for (int i = 0; i < T; ++i) pos[static_cast<size_t>(i)] = i;
    std::vector<engine::cuda::AttnTile> tiles;
    for (int i = T - 64; i >= 0; i -= 64) tiles.push_back({i, 64, 0, i});
    int32_t* d_pos = static_cast<int32_t*>(dalloc(static_cast<size_t>(T) * 4));
    int32_t* d_seq = static_cast<int32_t*>(dalloc(static_cast<size_t>(T) * 4));
    auto* d_tiles = static_cast<engine::cuda::AttnTile*>(dalloc(tiles.size() * sizeof(engine::cuda::AttnTile)));
    BENCH_CUDA(cudaMemcpy(d_pos, pos.data(), pos.size() * 4, cudaMemcpyHostToDevice));
    BENCH_CUDA(cudaMemcpy(d_seq, seq.data(), seq.size() * 4, cudaMemcpyHostToDevice));
    BENCH_CUDA(cudaMemcpy(d_tiles, tiles.data(), tiles.size() * sizeof(engine::cuda::AttnTile), cudaMemcpyHostToDevice));
    engine::cuda::AttnArgs a;
    a.q = q;
    a.k_cache = kc;
    a.v_cache = vc;
    a.kv_type = DType::f16;
    a.pos = d_pos;
    a.seq = d_seq;
    a.block_tables = d_bt;
    a.bt_stride = n_ctx / bs;
    a.n_head = H;
    a.n_head_kv = Hkv;
    a.head_dim = hd;
    a.block_size = bs;
    a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    a.out = out;
    a.out_type = DType::bf16;
    const double flops = 4.0 * hd * H * (static_cast<double>(T) * (T + 1) / 2);
    std::printf("\nprefill attention, %d tokens, %d/%d heads, hd %d (causal FLOPs):\n", T, H, Hkv, hd);
    // The default variant first (it sets the ceiling the model part uses),
    // then the others, to show what each part of it is worth.
    for (const bool dbl : {true, false}) {
      for (const bool major : {true, false}) {
        engine::cuda::PrefillVariant v;
        v.double_buffered = dbl;
        v.tile_major = major;
        const double ms = time_ms(s, 2, 10, [&] {
          BENCH_CUDA(engine::cuda::launch_attention_prefill(a, d_tiles, static_cast<int>(tiles.size()), s, v));
        });
        if (dbl && major) c.prefill_attention_ms = ms;
        const char* name = dbl ? (major ? "double-buffered, tile-major (default)" : "double-buffered, head-major")
                               : (major ? "single-buffered, tile-major" : "single-buffered, head-major (the old kernel)");
        std::printf("  %-46s %.3f ms, %.0f TFLOP/s\n", name, ms, flops / (ms * 1e-3) / 1e12);
        rep.add_json("{\"bench\":\"attn_prefill\",\"double_buffered\":" + std::string(dbl ? "true" : "false") +
                     ",\"tile_major\":" + std::string(major ? "true" : "false") + ",\"ms\":" + std::to_string(ms) +
                     ",\"tflops\":" + std::to_string(flops / (ms * 1e-3) / 1e12) + "}");
      }
    }

    // Decode: n_seq sequences, each one token at position ctx-1.
    for (int b : {1, 64}) {
      for (int ctx : {512, 2048}) {
        std::vector<int32_t> dpos(static_cast<size_t>(b), ctx - 1), dseq(static_cast<size_t>(b));
        for (int i = 0; i < b; ++i) dseq[static_cast<size_t>(i)] = i;
        BENCH_CUDA(cudaMemcpy(d_pos, dpos.data(), dpos.size() * 4, cudaMemcpyHostToDevice));
        BENCH_CUDA(cudaMemcpy(d_seq, dseq.data(), dseq.size() * 4, cudaMemcpyHostToDevice));
        int sms = 0;
        BENCH_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
        const auto split = engine::cuda::choose_attention_split(b, Hkv, 0, sms, 2048);
        const int32_t sl = engine::cuda::attention_split_len(ctx, split.n_splits);
        int32_t* d_sl = static_cast<int32_t*>(dalloc(4));
        BENCH_CUDA(cudaMemcpy(d_sl, &sl, 4, cudaMemcpyHostToDevice));
        float* po = static_cast<float*>(dalloc(static_cast<size_t>(2048) * H * hd * 4));
        float* pml = static_cast<float*>(dalloc(static_cast<size_t>(2048) * H * 2 * 4));
        const double dms = time_ms(s, 3, 20, [&] {
          BENCH_CUDA(engine::cuda::launch_attention_tokens(a, nullptr, b, split.n_splits, d_sl, po, pml, s));
        });
        const double bytes = 2.0 * b * ctx * Hkv * hd * 2;
        std::printf("decode attention, batch %d, context %d, %d splits: %.1f us, %.0f GB/s of K/V\n", b, ctx,
                    split.n_splits, dms * 1e3, bytes / (dms * 1e-3) / 1e9);
        rep.add_json("{\"bench\":\"attn_decode\",\"batch\":" + std::to_string(b) + ",\"ctx\":" + std::to_string(ctx) +
                     ",\"us\":" + std::to_string(dms * 1e3) + "}");
        BENCH_CUDA(cudaFree(d_sl));
        BENCH_CUDA(cudaFree(po));
        BENCH_CUDA(cudaFree(pml));
      }
    }
    // Decode, 64 sequences of mixed contexts (256 .. 2,048 keys, evenly
    // spread): one pass per (sequence, head) against long contexts cut into
    // pieces of about 512 keys (CudaBackendOptions::attn_split_keys).
    {
      constexpr int b = 64;
      std::vector<int32_t> dpos(static_cast<size_t>(b)), dseq(static_cast<size_t>(b));
      double keys = 0;
      for (int i = 0; i < b; ++i) {
        dpos[static_cast<size_t>(i)] = 256 + (2048 - 256) * i / (b - 1) - 1;
        dseq[static_cast<size_t>(i)] = i;
        keys += dpos[static_cast<size_t>(i)] + 1;
      }
      BENCH_CUDA(cudaMemcpy(d_pos, dpos.data(), dpos.size() * 4, cudaMemcpyHostToDevice));
      BENCH_CUDA(cudaMemcpy(d_seq, dseq.data(), dseq.size() * 4, cudaMemcpyHostToDevice));
      int sms = 0;
      BENCH_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
      int32_t* d_sl = static_cast<int32_t*>(dalloc(4));
      float* po = static_cast<float*>(dalloc(static_cast<size_t>(2048) * H * hd * 4));
      float* pml = static_cast<float*>(dalloc(static_cast<size_t>(2048) * H * 2 * 4));
      for (int split_keys : {0, 512, 256}) {
        const auto split = engine::cuda::choose_attention_split(b, Hkv, 0, sms, 2048, 2048, split_keys);
        const int32_t sl = engine::cuda::attention_split_len(2048, split.n_splits);
        BENCH_CUDA(cudaMemcpy(d_sl, &sl, 4, cudaMemcpyHostToDevice));
        const double dms = time_ms(s, 3, 20, [&] {
          BENCH_CUDA(engine::cuda::launch_attention_tokens(a, nullptr, b, split.n_splits, d_sl, po, pml, s));
        });
        const double bytes = 2.0 * keys * Hkv * hd * 2;
        std::printf("decode attention, batch %d, contexts 256-2048, split keys %d (%d splits): %.1f us, %.0f GB/s "
                    "of K/V\n",
                    b, split_keys, split.n_splits, dms * 1e3, bytes / (dms * 1e-3) / 1e9);
        rep.add_json("{\"bench\":\"attn_decode_mixed\",\"batch\":" + std::to_string(b) +
                     ",\"split_keys\":" + std::to_string(split_keys) + ",\"us\":" + std::to_string(dms * 1e3) + "}");
      }
      BENCH_CUDA(cudaFree(d_sl));
      BENCH_CUDA(cudaFree(po));
      BENCH_CUDA(cudaFree(pml));
    }
    for (void* p : {static_cast<void*>(kc), vc, static_cast<void*>(q), out, static_cast<void*>(d_bt),
                    static_cast<void*>(d_pos), static_cast<void*>(d_seq), static_cast<void*>(d_tiles)}) {
      BENCH_CUDA(cudaFree(p));
    }
  }
  BENCH_CUDA(cudaFree(ws));
  std::printf("\n");
  return c;
}

}  // namespace llmd::bench
