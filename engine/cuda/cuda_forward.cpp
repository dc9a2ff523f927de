// The forward step of the CUDA backend: planning, the per-layer launches,
// the output head, device sampling and decode-graph capture/replay.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/log.hpp"
#include "engine/cuda/cuda_backend_impl.hpp"
#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/kernels/launch.hpp"
#include "engine/cuda/kernels/rope_kv.hpp"
#include "engine/cuda/kernels/sampling.hpp"

namespace llmd::engine::cuda {
namespace {

uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

int sample_mode(const DeviceSampling* s) {
  if (!s) return 0;
  return s->temperature > 0.0f ? 2 : 1;
}

}  // namespace

PlanLimits CudaBackendImpl::limits() const {
  PlanLimits lim;
  lim.n_vocab = cfg_.n_vocab;
  lim.max_pos = max_pos_;
  lim.n_blocks = kv_shape_.n_blocks;
  lim.block_size = kv_shape_.block_size;
  lim.max_tokens = max_tokens_;
  lim.max_seqs = opts_.max_seqs;
  // A q8_0 cache is read by the per-token kernel only.
  lim.tiled_attention = kv_shape_.dtype != KvDtype::q8_0 &&
                        attention_prefill_supported(cfg_.head_dim, kv_shape_.dtype == KvDtype::f16 ? DType::f16 : DType::f32, act_);
  return lim;
}

Status CudaBackendImpl::forward(const ForwardBatch& batch, ForwardOutput* out, const DeviceSampling* sampling,
                                std::vector<int32_t>* ids) {
  if (!health_.healthy()) return health_.failed_error();
  if (!kv_ready_) return Error(errc::kKvNotInitialized, "forward before init_kv");
  if (sampling) {
    if (sampling->temperature < 0.0f || !sample_topk_supported(sampling->top_k, cfg_.n_vocab)) {
      return Error(errc::kUnsupported, "device sampling supports temperature >= 0 and top_k <= " +
                                           std::to_string(kMaxDeviceTopK));
    }
  }
  const PlanLimits lim = limits();
  LLMD_TRY(validate_batch(batch, lim));
  LLMD_CUDA_TRY(health_, cudaSetDevice(dev_.index));
  const ProgrammaticLaunchScope launch_mode(programmatic());

  bool decode = !batch.seqs.empty() && static_cast<int>(batch.seqs.size()) <= opts_.max_seqs &&
                static_cast<int>(batch.seqs.size()) <= max_tokens_;
  for (const BatchSeq& s : batch.seqs) decode = decode && s.tokens.size() == 1;
  // Decode batches (and with graph_mixed_steps every batch) get the same
  // shapes (block-table stride, attention split) with or without graphs, so
  // replayed and eager steps compute identically.
  const bool stable_shapes = decode || opts_.graph_mixed_steps;
  std::vector<StepPlan> steps = plan_steps(batch, lim, stable_shapes);

  size_t total_rows = 0;
  for (const StepPlan& p : steps) total_rows += p.rows.size();
  const size_t V = static_cast<size_t>(cfg_.n_vocab);
  // Tokens chosen here: no logits go to the host.
  const bool choose = out && !batch.samples.empty() && !sampling && !ids;
  if (choose) {
    for (const RowSample& rs : batch.samples) {
      if (!rs.plan || rs.row < 0 || static_cast<size_t>(rs.row) >= total_rows)
        return Error(errc::kBadBatch, "a sample names logits row " + std::to_string(rs.row) + " of " +
                                          std::to_string(total_rows));
    }
  }
  if (out) {
    out->n_vocab = cfg_.n_vocab;
    out->n_rows = static_cast<int32_t>(total_rows);
    out->logits.resize(choose ? 0 : total_rows * V);
    out->sampled.assign(choose ? batch.samples.size() : 0, SampledToken{});
  }
  if (ids) ids->assign(total_rows, 0);

  size_t row = 0;
  for (const StepPlan& p : steps) {
    StepSamples ss{batch.samples, static_cast<int>(row), out ? &out->sampled : nullptr};
    LLMD_TRY(run_step(p, sampling, out && !choose ? out->logits.data() + row * V : nullptr,
                      ids ? ids->data() + row : nullptr, stable_shapes && steps.size() == 1, choose ? &ss : nullptr));
    row += p.rows.size();
  }
  return ok_status();
}

Status CudaBackendImpl::run_step(const StepPlan& p, const DeviceSampling* sampling, float* logits_out,
                                 int32_t* ids_out, bool stable, const StepSamples* samples) {
  const StepLayout L = step_layout(p);
  if (L.total > in_cap_words_) {
    return Error(errc::kBadBatch, "step inputs exceed their buffer (" + std::to_string(L.total) + " > " +
                                      std::to_string(in_cap_words_) + " words)");
  }
  const int n_dlist = static_cast<int>(p.dlist.size());
  // Stable steps choose the split from the batch size and the block-table
  // stride (both in the graph key), so a captured grid stays valid as
  // contexts grow (the split length is read on the device).
  const int long_ctx = stable ? p.bt_stride * kv_shape_.block_size : p.max_ctx;
  const AttnSplit split = choose_attention_split(n_dlist, cfg_.n_head_kv, stable ? 0 : p.max_ctx, dev_.sm_count,
                                                 kMaxAttnPartials, long_ctx, opts_.attn_split_keys);
  const int split_len = attention_split_len(std::max(p.max_ctx, 1), split.n_splits);

  std::vector<uint64_t> seeds;
  if (sampling && sampling->temperature > 0.0f) {
    ++sample_step_;
    seeds.resize(p.rows.size());
    for (size_t r = 0; r < seeds.size(); ++r) seeds[r] = mix64(sampling->seed ^ mix64(sample_step_ * 0x10001ull + r));
  }
  int32_t* host = in_host_.as<int32_t>();
  write_step_inputs(p, L, split_len, seeds, host);
  LLMD_CUDA_TRY(health_, cudaMemcpyAsync(in_dev_.get(), host, L.total * 4, cudaMemcpyHostToDevice, stream_));

  const int32_t* dev = in_dev_.as<int32_t>();
  StepPtrs d;
  d.split_len = dev + L.split_len;
  d.tokens = dev + L.tokens;
  d.pos = dev + L.pos;
  d.seq = dev + L.seq;
  d.rows = dev + L.rows;
  d.dlist = dev + L.dlist;
  d.tiles = reinterpret_cast<const AttnTile*>(dev + L.tiles);
  d.block_tables = dev + L.block_tables;
  d.seeds = reinterpret_cast<const uint64_t*>(dev + L.seeds);

  const int n_rows = static_cast<int>(p.rows.size());
  const bool head_fits = n_rows <= head_rows_;
  ++stats_.steps;
  stats_.tokens += p.tokens.size();

  bool launched = false;
  if (stable && head_fits && opts_.cuda_graphs && graphs_ok_) {
    const GraphKey key{static_cast<int>(p.tokens.size()), n_rows, p.bt_stride, sample_mode(sampling),
                       sampling ? sampling->top_k : 0, sampling ? sampling->temperature : 0.0f, n_dlist,
                       static_cast<int>(p.tiles.size()), split.n_splits, p.all_decode};
    auto it = graphs_.find(key);
    const bool room = p.all_decode || mixed_graphs_ < kMaxMixedGraphs;
    if (it == graphs_.end() && seen_.count(key) && room) {
      // Second time this shape comes: capture it (the first run planned every
      // GEMM and loaded every kernel outside capture).
      cudaGraph_t graph = nullptr;
      LLMD_CUDA_TRY(health_, cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      Status st = enqueue_layers(p, d, split.n_splits);
      if (st.ok()) st = enqueue_head(d, 0, n_rows, sampling);
      const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
      if (!st.ok()) {
        if (graph) (void)cudaGraphDestroy(graph);
        return st;
      }
      cudaGraphExec_t exec = nullptr;
      cudaError_t e = end;
      if (e == cudaSuccess) e = cudaGraphInstantiate(&exec, graph, 0);
      if (graph) (void)cudaGraphDestroy(graph);
      if (e != cudaSuccess) {
        Status cs = health_.check(e, "CUDA graph capture");
        if (!health_.healthy()) return cs;
        llmd::log::warnf("cuda: graph capture failed (%s); decode steps run without graphs",
                         cs.error().message.c_str());
        graphs_ok_ = false;
      } else {
        it = graphs_.emplace(key, exec).first;
        ++stats_.graph_captures;
        mixed_graphs_ += !p.all_decode;
      }
    } else if (it == graphs_.end() && room) {
      // Shapes seen once; forgotten wholesale if a server's mixed steps ever
      // make them many.
      if (seen_.size() >= kMaxSeenShapes) seen_.clear();
      seen_.insert(key);
    }
    if (it != graphs_.end()) {
      LLMD_CUDA_TRY(health_, cudaGraphLaunch(it->second, stream_));
      ++stats_.graph_replays;
      stats_.mixed_graph_replays += !p.all_decode;
      launched = true;
    }
  }

  if (launched) {
    if (ids_out) {
      LLMD_CUDA_TRY(health_, cudaMemcpyAsync(ids_host_.get(), ids_, static_cast<size_t>(n_rows) * 4,
                                             cudaMemcpyDeviceToHost, stream_));
    } else if (logits_out && n_rows > 0) {
      LLMD_CUDA_TRY(health_, cudaMemcpyAsync(logits_out, logits_, static_cast<size_t>(n_rows) * cfg_.n_vocab * 4,
                                             cudaMemcpyDeviceToHost, stream_));
    } else if (samples) {
      LLMD_TRY(sampler_.run(logits_, samples->row_base, n_rows, cfg_.n_vocab, samples->plans, samples->sampled,
                            stream_));
    }
    LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
    if (ids_out && n_rows > 0) std::memcpy(ids_out, ids_host_.get(), static_cast<size_t>(n_rows) * 4);
    return ok_status();
  }

  // Eager: the layers, then the head in passes of at most head_rows_ rows.
  LLMD_TRY(enqueue_layers(p, d, split.n_splits));
  for (int r0 = 0; r0 < n_rows; r0 += head_rows_) {
    const int n = std::min(head_rows_, n_rows - r0);
    LLMD_TRY(enqueue_head(d, r0, n, sampling));
    if (ids_out) {
      LLMD_CUDA_TRY(health_, cudaMemcpyAsync(ids_host_.get(), ids_, static_cast<size_t>(n) * 4,
                                             cudaMemcpyDeviceToHost, stream_));
      LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
      std::memcpy(ids_out + r0, ids_host_.get(), static_cast<size_t>(n) * 4);
    } else if (logits_out) {
      // Pageable destination: returns once the copy is done, so the logits
      // buffer can be reused by the next pass.
      LLMD_CUDA_TRY(health_, cudaMemcpyAsync(logits_out + static_cast<size_t>(r0) * cfg_.n_vocab, logits_,
                                             static_cast<size_t>(n) * cfg_.n_vocab * 4, cudaMemcpyDeviceToHost,
                                             stream_));
    } else if (samples) {
      // Before the next pass overwrites the logits buffer.
      LLMD_TRY(sampler_.run(logits_, samples->row_base + r0, n, cfg_.n_vocab, samples->plans, samples->sampled,
                            stream_));
    }
  }
  LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
  return ok_status();
}

Status CudaBackendImpl::run_gemv(const GemvArgs& g) {
  LLMD_CUDA_TRY(health_, launch_gemv(g, stream_));
  return ok_status();
}

bool CudaBackendImpl::uses_gemv(int n_tokens, int k) const {
  return n_tokens <= opts_.gemv_max_tokens && gemv_supported(act_, k, n_tokens);
}

Status CudaBackendImpl::project(const DeviceMatrix& w, const void* x, int n, void* y, DType y_type,
                                bool accumulate) {
  if (!w.dense()) return project_quantized(w, x, n, y, y_type, accumulate);
  const void* dw = w.parts[0].w;
  const int m = w.rows, k = w.cols;
  if (y_type == DType::f32 && uses_gemv(n, k)) {
    GemvArgs g = make_gemv_args(dw, act_, x, n, m, k, y, accumulate ? GemvMode::accumulate : GemvMode::store);
    return run_gemv(g);
  }
  return gemm(dw, m, k, x, n, y, y_type, accumulate);
}

Status CudaBackendImpl::gemm(const void* w, int m, int k, const void* x, int n, void* y, DType y_type,
                             bool accumulate) {
  GemmArgs g;
  g.w = w;
  g.w_type = act_;
  g.x = x;
  g.x_type = act_;
  g.y = y;
  g.y_type = y_type;
  g.m = m;
  g.n = n;
  g.k = k;
  g.accumulate = accumulate;
  return gemm_.run(g, stream_);
}

Status CudaBackendImpl::enqueue_layers(const StepPlan& p, const StepPtrs& d, int n_splits) {
  const ModelConfig& c = cfg_;
  const int T = static_cast<int>(p.tokens.size());
  const int E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  const DType kv_type = kv_shape_.dtype == KvDtype::f16 ? DType::f16 : DType::f32;

  LLMD_TRY(embed(d.tokens, T));
  const bool gemv = uses_gemv(T, E);
  // RMSNorm inside the GEMVs that read its output (QKV, gate/up; the 16-bit
  // ones and the quantized ones alike), or apart.
  const bool fused_norm = gemv && opts_.fuse_norm_gemv;
  // RoPE and the K/V store inside the attention: every token is the only one
  // of its sequence, so no token reads a key another block writes.
  const bool kv_q8 = kv_shape_.dtype == KvDtype::q8_0;
  const bool fused_rope =
      opts_.fuse_rope_decode && !kv_q8 && p.all_decode && p.tiles.empty() && !p.dlist.empty();
  for (int l = 0; l < c.n_layer; ++l) {
    const DeviceLayer& Lw = w_.layers[static_cast<size_t>(l)];
    char* kbase = static_cast<char*>(kv_.get()) + (2 * static_cast<size_t>(l)) * kv_half_bytes_;
    char* vbase = kbase + kv_half_bytes_;

    // Attention block.
    if (fused_norm && Lw.wqkv.dense()) {
      GemvArgs g = make_gemv_args(Lw.wqkv.parts[0].w, act_, x_, T, Q + 2 * KV, E, qkv_, GemvMode::store);
      g.norm_w = Lw.attn_norm;
      g.norm_eps = c.rms_eps;
      LLMD_TRY(run_gemv(g));
    } else if (quant_norm_gemv(Lw.wqkv, T, false)) {
      LLMD_TRY(project_quantized_normed(Lw.wqkv, Lw.attn_norm, T, qkv_, false));
    } else {
      LLMD_CUDA_TRY(health_, launch_rmsnorm(x_, nullptr, T, E, Lw.attn_norm, c.rms_eps, xn_, act_, stream_));
      LLMD_TRY(project(Lw.wqkv, xn_, T, qkv_, DType::f32, false));
    }
    if (!fused_rope) {
      RopeKvArgs r;
      r.qkv = qkv_;
      r.bias = Lw.bqkv;
      r.pos = d.pos;
      r.seq = d.seq;
      r.block_tables = d.block_tables;
      r.bt_stride = p.bt_stride;
      r.rope_cs = rope_cs_;
      r.q_out = q_;
      r.k_cache = kbase;
      r.v_cache = vbase;
      r.kv_type = kv_type;
      r.n_tokens = T;
      r.n_head = c.n_head;
      r.n_head_kv = c.n_head_kv;
      r.head_dim = c.head_dim;
      r.rope_dim = c.n_rot;
      r.block_size = kv_shape_.block_size;
      r.neox = c.rope_style == RopeStyle::neox;
      if (kv_q8) r.kv_rows = static_cast<float*>(kv_rows_.get());
      LLMD_CUDA_TRY(health_, launch_rope_kv(r, stream_));
      if (kv_q8) {
        LLMD_CUDA_TRY(health_, launch_store_kv_q8(r, stream_));
      }
    }

    AttnArgs a;
    a.q = q_;
    a.k_cache = kbase;
    a.v_cache = vbase;
    a.kv_type = kv_type;
    a.kv_q8_0 = kv_q8;
    a.pos = d.pos;
    a.seq = d.seq;
    a.block_tables = d.block_tables;
    a.bt_stride = p.bt_stride;
    a.n_head = c.n_head;
    a.n_head_kv = c.n_head_kv;
    a.head_dim = c.head_dim;
    a.block_size = kv_shape_.block_size;
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    a.out = attn_;
    a.out_type = act_;
    if (fused_rope) {
      a.rope.qkv = qkv_;
      a.rope.bias = Lw.bqkv;
      a.rope.rope_cs = rope_cs_;
      a.rope.rope_dim = c.n_rot;
      a.rope.neox = c.rope_style == RopeStyle::neox;
    }
    if (!p.dlist.empty()) {
      LLMD_CUDA_TRY(health_, launch_attention_tokens(a, d.dlist, static_cast<int>(p.dlist.size()), n_splits,
                                                     d.split_len, part_o_, part_ml_, stream_));
      stats_.attn_fused_rope += fused_rope;
    }
    if (!p.tiles.empty()) {
      PrefillVariant v;
      v.double_buffered = v.tile_major = opts_.prefill_pipelined;
      LLMD_CUDA_TRY(health_, launch_attention_prefill(a, d.tiles, static_cast<int>(p.tiles.size()), stream_, v));
      stats_.prefill_pipelined += v.double_buffered;
    }
    LLMD_TRY(project(Lw.wo, attn_, T, x_, DType::f32, true));

    // Feed-forward block.
    if (fused_norm && Lw.wgu.dense()) {
      GemvArgs g = make_gemv_args(Lw.wgu.parts[0].w, act_, x_, T, F, E, h_, GemvMode::swiglu);
      g.norm_w = Lw.ffn_norm;
      g.norm_eps = c.rms_eps;
      LLMD_TRY(run_gemv(g));
    } else if (gemv && Lw.wgu.dense()) {
      LLMD_CUDA_TRY(health_, launch_rmsnorm(x_, nullptr, T, E, Lw.ffn_norm, c.rms_eps, xn_, act_, stream_));
      GemvArgs g = make_gemv_args(Lw.wgu.parts[0].w, act_, xn_, T, F, E, h_, GemvMode::swiglu);
      LLMD_TRY(run_gemv(g));
    } else if (quant_norm_gemv(Lw.wgu, T, true)) {
      LLMD_TRY(project_quantized_normed(Lw.wgu, Lw.ffn_norm, T, h_, true));
    } else {
      LLMD_CUDA_TRY(health_, launch_rmsnorm(x_, nullptr, T, E, Lw.ffn_norm, c.rms_eps, xn_, act_, stream_));
      // The quantized kernels write f32.
      const bool gu_16 = opts_.gate_up_16bit && act_ != DType::f32 && !quant_direct(Lw.wgu, T);
      const DType gu_type = gu_16 ? act_ : DType::f32;
      LLMD_TRY(project(Lw.wgu, xn_, T, gu_, gu_type, false));
      LLMD_CUDA_TRY(health_, launch_swiglu(gu_, gu_type, T, F, h_, act_, stream_));
    }
    LLMD_TRY(project(Lw.wdown, h_, T, x_, DType::f32, true));
  }
  return ok_status();
}

Status CudaBackendImpl::enqueue_head(const StepPtrs& d, int row0, int n_rows, const DeviceSampling* sampling) {
  if (n_rows <= 0) return ok_status();
  const ModelConfig& c = cfg_;
  LLMD_CUDA_TRY(health_, launch_rmsnorm(x_, d.rows + row0, n_rows, c.n_embd, w_.out_norm, c.rms_eps, xn_, act_,
                                        stream_));
  LLMD_TRY(project(w_.out_w, xn_, n_rows, logits_, DType::f32, false));
  if (sampling) {
    if (sampling->temperature > 0.0f) {
      LLMD_CUDA_TRY(health_, launch_sample_topk(logits_, n_rows, c.n_vocab, sampling->top_k, sampling->temperature,
                                                d.seeds + row0, ids_, stream_));
    } else {
      LLMD_CUDA_TRY(health_, launch_argmax(logits_, n_rows, c.n_vocab, ids_, stream_));
    }
  }
  return ok_status();
}

}  // namespace llmd::engine::cuda
