// CpuBackend::forward: one step of the Llama-family transformer over a batch of
// sequences with a paged KV-cache. Buffer shapes (T = tokens in the step):
//   x_    [T][n_embd]            residual stream
//   xn_   [T][n_embd]            normalized input of a linear layer
//   qkv_  [T][q_dim + 2 kv_dim]  queries, keys, values (after bias and RoPE)
//   att_  [T][q_dim]             attention output
//   gu_   [T][2 n_ff]            gate and up projections
//   h_    [T][n_ff]              silu(gate) * up
//   cos_, sin_ [P][n_rot]        RoPE tables of positions 0 .. P-1 (P = rope_rows_) as the
//                                rope kernel takes them (kernels.hpp), grown as longer
//                                sequences arrive
#include <algorithm>
#include <cmath>
#include <new>

#include "engine/cpu/cpu_backend_impl.hpp"
#include "engine/quant/dequantize.hpp"

namespace llmd::engine::cpu {

namespace {

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

Status CpuBackend::ensure_scratch(int64_t tokens, int64_t max_keys) try {
  const size_t T = static_cast<size_t>(tokens);
  const size_t E = static_cast<size_t>(cfg_.n_embd);
  const size_t QKV = static_cast<size_t>(cfg_.q_dim() + 2 * cfg_.kv_dim());
  const size_t F = static_cast<size_t>(cfg_.n_ff);
  const size_t K_max = std::max({E, F, static_cast<size_t>(cfg_.q_dim())});
  grow(x_, T * E);
  grow(xn_, T * K_max);
  grow(qkv_, T * QKV);
  grow(att_, T * std::max(E, static_cast<size_t>(cfg_.q_dim())));  // also gathers output rows of n_embd
  grow(gu_, T * 2 * F);
  grow(h_, T * F);
  if (max_keys > rope_rows_) {  // positions < max_keys; grow geometrically, computing only the new rows
    const int64_t rows = std::min(max_positions(), std::max(max_keys, 2 * rope_rows_));
    const int64_t n_rot = cfg_.n_rot, half = n_rot / 2;
    grow(cos_, static_cast<size_t>(rows * n_rot));
    grow(sin_, static_cast<size_t>(rows * n_rot));
    const std::vector<double>& inv_freq = model_.rope_inv_freq();
    const bool adjacent = cfg_.rope_style == RopeStyle::adjacent;
    for (int64_t pos = rope_rows_; pos < rows; ++pos) {
      float* c2 = cos_.data() + pos * n_rot;
      float* s2 = sin_.data() + pos * n_rot;
      for (int64_t i = 0; i < half; ++i) {
        const double a = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
        const float c = static_cast<float>(std::cos(a)), sn = static_cast<float>(std::sin(a));
        const int64_t first = adjacent ? 2 * i : i, second = adjacent ? 2 * i + 1 : i + half;
        c2[first] = c2[second] = c;
        s2[first] = -sn;
        s2[second] = sn;
      }
    }
    rope_rows_ = rows;
  }
  grow(aq_, T * K_max);
  grow(ar_, T * K_max);
  grow(ad_, T * K_max / kActBlock);
  grow(aqsum_, T * K_max / kActBlock);
  grow(acorr32_, T * K_max / kActBlock);
  grow(acorr16_, T * K_max / 16);
  grow(row_pos_, T);
  grow(row_piece_, T);
  const size_t g = static_cast<size_t>(cfg_.gqa_group());
  const size_t per_thread = g * static_cast<size_t>(max_keys) + g * static_cast<size_t>(cfg_.head_dim) + 64;
  attn_scratch_.resize(static_cast<size_t>(pool_.size()));
  for (auto& s : attn_scratch_) grow(s, per_thread);
  return ok_status();
} catch (const std::bad_alloc&) {
  return Error(ErrorCode::out_of_memory, "cannot allocate work buffers for " + std::to_string(tokens) + " tokens and " +
                                    std::to_string(max_keys) + " keys");
}

void CpuBackend::quantize(ActInput& in) {
  if (in.quantized) return;
  const int64_t K = in.stride;  // inputs are dense rows
  ActQ8& q = in.q;
  q.rows = in.rows;
  q.cols = K;
  q.q = aq_.data();
  q.r = ar_.data();
  q.d = ad_.data();
  q.corr16 = acorr16_.data();
  q.corr32 = acorr32_.data();
  q.qsum32 = aqsum_.data();
  q.q_stride = K;
  q.d_stride = K / kActBlock;
  q.corr16_stride = K / 16;
  q.corr32_stride = K / kActBlock;
  auto row = [&](int64_t r, int) {
    k_.quantize_row(in.x + r * K, K, aq_.data() + r * K, ar_.data() + r * K, ad_.data() + r * (K / kActBlock),
                    acorr16_.data() + r * (K / 16), acorr32_.data() + r * (K / kActBlock),
                    aqsum_.data() + r * (K / kActBlock));
  };
  if (in.rows >= 8) {
    pool_.run(in.rows, row);
  } else {
    for (int64_t r = 0; r < in.rows; ++r) row(r, 0);
  }
  in.quantized = true;
}

void CpuBackend::linear(const Linear& l, ActInput& in, float* y, int64_t y_stride, bool accumulate) {
  int64_t col = 0;
  for (const PackedMatrix& m : l.parts) {
    const PackedView& w = m.view();
    GemmTask base;
    base.w = &w;
    base.c0 = 0;
    base.c1 = in.rows;
    base.y = y + col;
    base.y_stride = y_stride;
    base.accumulate = accumulate;
    const bool is_float = w.format == PackFormat::f32 || w.format == PackFormat::f16 || w.format == PackFormat::bf16;
    if (is_float) {
      base.x = in.x;
      base.x_stride = in.stride;
    } else {
      quantize(in);
      base.xq = &in.q;
    }
    // Row groups per task: enough tasks for dynamic balance, whole tiles of 4 groups.
    const int64_t target = static_cast<int64_t>(pool_.size()) * 8;
    int64_t per = (w.groups + target - 1) / target;
    per = std::max<int64_t>(4, (per + 3) / 4 * 4);
    const int64_t n_tasks = (w.groups + per - 1) / per;
    pool_.run(n_tasks, [&](int64_t task, int) {
      GemmTask t = base;
      t.g0 = task * per;
      t.g1 = std::min(w.groups, t.g0 + per);
      k_.gemm(t);
    });
    col += m.rows();
  }
}

void CpuBackend::rms_norm(const float* x, const std::vector<float>& w, float* y, int64_t rows) {
  const int64_t E = cfg_.n_embd;
  const float eps = cfg_.rms_eps;
  const float* wp = w.data();
  auto row = [&](int64_t r, int) { k_.rms_norm(x + r * E, wp, y + r * E, E, eps); };
  if (rows >= 16) {
    pool_.run(rows, row);
  } else {
    for (int64_t r = 0; r < rows; ++r) row(r, 0);
  }
}

Status CpuBackend::validate_batch(const ForwardBatch& batch) const {
  if (!kv_.ready()) return Error(ErrorCode::kv_not_initialized, "init_kv() must be called before forward()");
  const int32_t bs = kv_.block_size();
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const BatchSeq& s = batch.seqs[i];
    const std::string where = "sequence " + std::to_string(i) + " of the batch";
    if (s.tokens.empty()) return Error(ErrorCode::forward_bad_batch, where + " has no tokens");
    if (s.pos < 0) return Error(ErrorCode::forward_bad_batch, where + " has a negative position");
    const int64_t end = static_cast<int64_t>(s.pos) + static_cast<int64_t>(s.tokens.size());
    if (end > max_positions())
      return Error(ErrorCode::forward_bad_batch, where + " reaches position " + std::to_string(end) + ", beyond the " +
                                            std::to_string(max_positions()) + " this model is served with");
    const int64_t need = (end + bs - 1) / bs;
    if (static_cast<int64_t>(s.block_table.size()) < need)
      return Error(ErrorCode::forward_bad_batch, where + " needs " + std::to_string(need) + " KV blocks, its table has " +
                                            std::to_string(s.block_table.size()));
    for (int64_t b = 0; b < need; ++b) {
      const int32_t id = s.block_table[static_cast<size_t>(b)];
      if (id < 0 || id >= kv_.n_blocks())
        return Error(ErrorCode::forward_bad_batch, where + " refers to KV block " + std::to_string(id) +
                                              " outside the pool of " + std::to_string(kv_.n_blocks()));
    }
    for (int32_t t : s.tokens)
      if (t < 0 || t >= cfg_.n_vocab)
        return Error(ErrorCode::forward_bad_batch, where + " has token id " + std::to_string(t) + " outside the vocabulary of " +
                                              std::to_string(cfg_.n_vocab));
  }
  return ok_status();
}

Status CpuBackend::forward(const ForwardBatch& batch, ForwardOutput* out) {
  if (first_ > 0 || last_ < cfg_.n_layer)
    return Error(ErrorCode::forward_bad_batch, "this backend runs layers [" + std::to_string(first_) + ", " +
                                                   std::to_string(last_) + ") of " + std::to_string(cfg_.n_layer) +
                                                   ": drive it with forward_stage()");
  return forward_stage(batch, nullptr, out, nullptr);
}

Status CpuBackend::forward_stage(const ForwardBatch& batch, const HiddenRows* in, ForwardOutput* out,
                                 HiddenRows* hidden) {
  const bool first_stage = first_ == 0, last_stage = last_ == cfg_.n_layer;
  if (last_stage && !out) return Error(ErrorCode::forward_bad_batch, "no output given");
  if (!last_stage && !hidden) return Error(ErrorCode::forward_bad_batch, "no hidden-state output given");
  if (first_stage && in) return Error(ErrorCode::forward_bad_batch, "the first stage takes token ids, not hidden rows");
  if (Status st = validate_batch(batch); !st) return st;
  int64_t n_rows = 0, n_embd_rows = 0, n_tokens = 0;
  for (const BatchSeq& s : batch.seqs) {
    n_tokens += static_cast<int64_t>(s.tokens.size());
    if (s.logits == LogitsMode::last) n_rows += 1;
    if (s.logits == LogitsMode::all) n_rows += static_cast<int64_t>(s.tokens.size());
    if (s.logits == LogitsMode::embed_last) n_embd_rows += 1;
    if (s.logits == LogitsMode::embed_all) n_embd_rows += static_cast<int64_t>(s.tokens.size());
  }
  if (!first_stage) {
    if (!in) return Error(ErrorCode::forward_bad_batch, "a stage after the first takes hidden rows");
    if (in->n_embd != cfg_.n_embd || in->n_rows != n_tokens ||
        in->data.size() != static_cast<size_t>(n_tokens) * static_cast<size_t>(cfg_.n_embd))
      return Error(ErrorCode::forward_bad_batch, "hidden rows of " + std::to_string(in->n_rows) + " x " +
                                                     std::to_string(in->n_embd) + " given for a batch of " +
                                                     std::to_string(n_tokens) + " tokens x " +
                                                     std::to_string(cfg_.n_embd));
  }
  float* logits = nullptr;
  float* embeddings = nullptr;
  float* out_rows = nullptr;
  try {
    if (last_stage) {
      out->n_rows = static_cast<int32_t>(n_rows);
      out->n_vocab = cfg_.n_vocab;
      out->logits.resize(static_cast<size_t>(n_rows) * static_cast<size_t>(cfg_.n_vocab));
      logits = out->logits.data();
      out->n_embd_rows = static_cast<int32_t>(n_embd_rows);
      out->n_embd = cfg_.n_embd;
      out->embeddings.resize(static_cast<size_t>(n_embd_rows) * static_cast<size_t>(cfg_.n_embd));
      embeddings = out->embeddings.data();
    } else {
      hidden->n_rows = static_cast<int32_t>(n_tokens);
      hidden->n_embd = cfg_.n_embd;
      hidden->data.resize(static_cast<size_t>(n_tokens) * static_cast<size_t>(cfg_.n_embd));
      out_rows = hidden->data.data();
    }
  } catch (const std::bad_alloc&) {
    return Error(ErrorCode::out_of_memory, "cannot allocate the output of " + std::to_string(n_tokens) + " tokens");
  }
  const float* in_rows = in ? in->data.data() : nullptr;

  // Cut the batch into steps of at most kMaxStepTokens tokens.
  std::vector<Piece> pieces;
  int64_t step_tokens = 0;
  auto flush = [&]() -> Status {
    if (pieces.empty()) return ok_status();
    if (Status st = run_step(pieces, in_rows, logits, embeddings, out_rows); !st) return st;
    const int64_t E = cfg_.n_embd;
    for (const Piece& p : pieces) {
      if (logits) logits += p.n_logits() * int64_t{cfg_.n_vocab};
      if (embeddings) embeddings += p.n_embed() * E;
      if (out_rows) out_rows += p.n * E;
      if (in_rows) in_rows += p.n * E;
    }
    pieces.clear();
    step_tokens = 0;
    return ok_status();
  };
  for (const BatchSeq& s : batch.seqs) {
    int32_t off = 0;
    const int32_t n = static_cast<int32_t>(s.tokens.size());
    while (off < n) {
      if (step_tokens == kMaxStepTokens)
        if (Status st = flush(); !st) return st;
      const int32_t take = static_cast<int32_t>(std::min<int64_t>(n - off, kMaxStepTokens - step_tokens));
      Piece p;
      p.seq = &s;
      p.offset = off;
      p.n = take;
      p.pos = s.pos + off;
      p.logits_all = s.logits == LogitsMode::all;
      p.logits_last = s.logits == LogitsMode::last && off + take == n;
      p.embed_all = s.logits == LogitsMode::embed_all;
      p.embed_last = s.logits == LogitsMode::embed_last && off + take == n;
      pieces.push_back(p);
      step_tokens += take;
      off += take;
    }
  }
  return flush();
}

Status CpuBackend::run_step(std::span<const Piece> pieces, const float* in_rows, float* logits, float* embeddings,
                            float* out_rows) {
  const ModelConfig& c = cfg_;
  int64_t T = 0, max_keys = 0;
  for (const Piece& p : pieces) {
    T += p.n;
    const int64_t keys = static_cast<int64_t>(p.pos) + p.n;
    max_keys = std::max(max_keys, (keys + kv_.block_size() - 1) / kv_.block_size() * kv_.block_size());
  }
  if (Status st = ensure_scratch(T, max_keys); !st) return st;
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), QKV = Q + 2 * KV, F = c.n_ff;

  // Per-row position and piece; token embeddings or the previous stage's rows.
  {
    int64_t r = 0;
    for (size_t pi = 0; pi < pieces.size(); ++pi) {
      for (int32_t i = 0; i < pieces[pi].n; ++i, ++r) {
        row_pos_[static_cast<size_t>(r)] = pieces[pi].pos + i;
        row_piece_[static_cast<size_t>(r)] = static_cast<int32_t>(pi);
      }
    }
    if (in_rows) {
      std::copy_n(in_rows, T * E, x_.data());
    } else {
      const WeightView& embd = model_.token_embd();
      r = 0;
      for (const Piece& p : pieces) {
        for (int32_t i = 0; i < p.n; ++i, ++r) {
          const int32_t tok = p.seq->tokens[static_cast<size_t>(p.offset + i)];
          quant::dequantize_row(embd.type, embd.row(tok), x_.data() + r * E, E);
        }
      }
    }
  }

  prepare_attention(pieces);
  // l counts this backend's layers from 0 (its KV pool holds only them).
  for (int l = 0; l < last_ - first_; ++l) {
    const Layer& L = layers_[static_cast<size_t>(l)];
    // Attention block.
    rms_norm(x_.data(), L.attn_norm, xn_.data(), T);
    ActInput in{xn_.data(), T, E};
    linear(L.qkv, in, qkv_.data(), QKV, false);
    auto post_qkv = [&](int64_t r, int thread) {
      float* row = qkv_.data() + r * QKV;
      if (c.qkv_bias) {
        for (int64_t i = 0; i < Q; ++i) row[i] += L.bq[static_cast<size_t>(i)];
        for (int64_t i = 0; i < KV; ++i) row[Q + i] += L.bk[static_cast<size_t>(i)];
        for (int64_t i = 0; i < KV; ++i) row[Q + KV + i] += L.bv[static_cast<size_t>(i)];
      }
      if (c.qk_norm) {  // per-head RMSNorm of queries and keys (qwen3), before RoPE
        float* tmp = attn_scratch_[static_cast<size_t>(thread)].data();
        const int64_t hd = c.head_dim;
        for (int h = 0; h < c.n_head + c.n_head_kv; ++h) {
          float* head = row + int64_t{h} * hd;
          k_.rms_norm(head, (h < c.n_head ? L.q_norm : L.k_norm).data(), tmp, hd, c.rms_eps);
          std::copy_n(tmp, hd, head);
        }
      }
      // The query heads and then the key heads, adjacent in the row.
      const int32_t pos = row_pos_[static_cast<size_t>(r)];
      k_.rope(row, c.n_head + c.n_head_kv, c.head_dim, c.n_rot, cos_.data() + int64_t{pos} * c.n_rot,
              sin_.data() + int64_t{pos} * c.n_rot, c.rope_style == RopeStyle::adjacent);
      const Piece& p = pieces[static_cast<size_t>(row_piece_[static_cast<size_t>(r)])];
      const int32_t block = p.seq->block_table[static_cast<size_t>(pos / kv_.block_size())];
      kv_.write(block, pos % kv_.block_size(), l, row + Q, row + Q + KV, k_.to_f16);
    };
    if (T >= 16) {
      pool_.run(T, post_qkv);
    } else {
      for (int64_t r = 0; r < T; ++r) post_qkv(r, 0);
    }
    attention(l, pieces);
    ActInput ain{att_.data(), T, Q};
    linear(L.wo, ain, x_.data(), E, true);

    // Feed-forward block.
    rms_norm(x_.data(), L.ffn_norm, xn_.data(), T);
    ActInput fin{xn_.data(), T, E};
    linear(L.gate_up, fin, gu_.data(), 2 * F, false);
    auto act = [&](int64_t r, int) {
      k_.silu_mul(gu_.data() + r * 2 * F, gu_.data() + r * 2 * F + F, h_.data() + r * F, F);
    };
    if (T >= 16) {
      pool_.run(T, act);
    } else {
      for (int64_t r = 0; r < T; ++r) act(r, 0);
    }
    ActInput hin{h_.data(), T, F};
    linear(L.down, hin, x_.data(), E, true);
  }

  if (out_rows) {  // not the last stage: every row goes on to the next
    std::copy_n(x_.data(), T * E, out_rows);
    return ok_status();
  }

  // The requested rows, gathered (att_ is free now): logits rows first, then
  // embedding rows; all go through the output norm, the first through the head.
  int64_t n_out = 0, n_emb = 0;
  {
    int64_t r = 0;
    for (const Piece& p : pieces) {
      for (int32_t i = 0; i < p.n; ++i, ++r) {
        if (p.logits_all || (p.logits_last && i == p.n - 1)) {
          std::copy_n(x_.data() + r * E, E, att_.data() + n_out * E);
          ++n_out;
        }
      }
    }
    r = 0;
    for (const Piece& p : pieces) {
      for (int32_t i = 0; i < p.n; ++i, ++r) {
        if (p.embed_all || (p.embed_last && i == p.n - 1)) {
          std::copy_n(x_.data() + r * E, E, att_.data() + (n_out + n_emb) * E);
          ++n_emb;
        }
      }
    }
  }
  if (n_out + n_emb > 0) rms_norm(att_.data(), output_norm_, xn_.data(), n_out + n_emb);
  if (n_emb > 0) std::copy_n(xn_.data() + n_out * E, n_emb * E, embeddings);
  if (n_out > 0) {
    ActInput oin{xn_.data(), n_out, E};
    linear(output_, oin, logits, c.n_vocab, false);
  }
  return ok_status();
}

void CpuBackend::prepare_attention(std::span<const Piece> pieces) {
  const int32_t bs = kv_.block_size();
  // Tile pointers of layer 0 for every (piece, kv head): K tiles then V tiles;
  // other layers add kv_.layer_stride() per layer.
  tiles_.clear();
  tiles_offset_.clear();
  for (const Piece& p : pieces) {
    const int32_t n_blocks = (p.pos + p.n + bs - 1) / bs;
    for (int h = 0; h < cfg_.n_head_kv; ++h) {
      tiles_offset_.push_back(tiles_.size());
      for (int32_t b = 0; b < n_blocks; ++b) tiles_.push_back(kv_.k_tile(p.seq->block_table[static_cast<size_t>(b)], 0, h));
      for (int32_t b = 0; b < n_blocks; ++b) tiles_.push_back(kv_.v_tile(p.seq->block_table[static_cast<size_t>(b)], 0, h));
    }
  }
}

void CpuBackend::attention(int layer, std::span<const Piece> pieces) {
  const ModelConfig& c = cfg_;
  const int32_t bs = kv_.block_size();
  const int g = c.gqa_group();
  const int64_t Q = c.q_dim(), KV = c.kv_dim(), QKV = Q + 2 * KV;
  const int64_t tile_offset = kv_.layer_stride() * layer;
  // One task per (token row, kv head).
  int64_t T = 0;
  for (const Piece& p : pieces) T += p.n;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  pool_.run(T * c.n_head_kv, [&](int64_t task, int thread) {
    const int64_t r = task / c.n_head_kv;
    const int h = static_cast<int>(task % c.n_head_kv);
    const int32_t pi = row_piece_[static_cast<size_t>(r)];
    const Piece& p = pieces[static_cast<size_t>(pi)];
    const int32_t n_blocks = (p.pos + p.n + bs - 1) / bs;
    const size_t off = tiles_offset_[static_cast<size_t>(pi) * static_cast<size_t>(c.n_head_kv) + static_cast<size_t>(h)];
    AttnTask t;
    t.q = qkv_.data() + r * QKV + static_cast<int64_t>(h) * g * c.head_dim;
    t.g = g;
    t.head_dim = c.head_dim;
    t.n_keys = row_pos_[static_cast<size_t>(r)] + 1;
    t.block_size = bs;
    t.elem = kv_.elem();
    t.k_tiles = tiles_.data() + off;
    t.v_tiles = tiles_.data() + off + static_cast<size_t>(n_blocks);
    t.tile_offset = tile_offset;
    t.scale = scale;
    t.scratch = attn_scratch_[static_cast<size_t>(thread)].data();
    t.out = att_.data() + r * Q + static_cast<int64_t>(h) * g * c.head_dim;
    k_.attention(t);
  });
}

}  // namespace llmd::engine::cpu
