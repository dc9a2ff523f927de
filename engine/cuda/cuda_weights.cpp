#include "engine/cuda/cuda_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/cuda/kernels/dequant.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/quant/device_layout.hpp"

namespace llmd::engine::cuda {
namespace {

using gguf::GgmlType;

constexpr size_t kChunkBytes = size_t{64} << 20;  // per staged copy

// Streams tensors from the (memory-mapped) file to the device in chunks of
// whole rows, two chunks in flight so the host copy overlaps the transfer.
// Dense: file -> pinned host -> device staging -> converted on the device.
// Quantized: file -> rearranged into the device layout on the host, into
// pinned memory -> each plane's share copied to its place in the matrix.
class Uploader {
 public:
  Uploader(DeviceHealth& health, cudaStream_t stream) : health_(health), stream_(stream) {}
  ~Uploader() {
    for (auto& e : done_)
      if (e) (void)cudaEventDestroy(e);
  }

  Status init() {
    for (int i = 0; i < 2; ++i) {
      LLMD_TRY(pinned_[i].allocate(health_, kChunkBytes, "weight upload buffer"));
      LLMD_TRY(staging_[i].allocate(health_, kChunkBytes, "weight staging buffer"));
      LLMD_CUDA_TRY(health_, cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming));
    }
    return ok_status();
  }

  // Converts rows [0, v.rows) of a tensor into dst (row-major, dst_type).
  Status upload(const WeightView& v, void* dst, DType dst_type) {
    if (!dequantize_supported(static_cast<uint32_t>(v.type))) {
      return Error(ErrorCode::model_unsupported_type, "the CUDA backend cannot use tensor " + v.name + " of type " +
                                                 std::string(gguf::ggml_type_name(v.type)));
    }
    const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / v.row_bytes));
    if (v.row_bytes > kChunkBytes) {
      return Error(ErrorCode::model_bad_tensor_shape, "tensor " + v.name + " has rows larger than the upload buffer");
    }
    for (int64_t r0 = 0; r0 < v.rows; r0 += rows_per_chunk) {
      const int64_t n = std::min(rows_per_chunk, v.rows - r0);
      const size_t bytes = static_cast<size_t>(n) * v.row_bytes;
      const int b = next_buffer();
      LLMD_CUDA_TRY(health_, cudaEventSynchronize(done_[b]));  // buffer b free again
      std::memcpy(pinned_[b].get(), v.row(r0), bytes);
      LLMD_CUDA_TRY(health_, cudaMemcpyAsync(staging_[b].get(), pinned_[b].get(), bytes, cudaMemcpyHostToDevice,
                                             stream_));
      char* out = static_cast<char*>(dst) + static_cast<size_t>(r0) * static_cast<size_t>(v.cols) * dtype_size(dst_type);
      LLMD_CUDA_TRY(health_, launch_dequantize(staging_[b].get(), static_cast<uint32_t>(v.type),
                                               static_cast<size_t>(n) * static_cast<size_t>(v.cols), out, dst_type,
                                               stream_));
      LLMD_CUDA_TRY(health_, cudaEventRecord(done_[b], stream_));
    }
    return ok_status();
  }

  // Writes the tensor's rows as rows [row0, row0 + v.rows) of `whole`, a
  // matrix of v's type in the device layout at dst. A chunk of rows is a
  // contiguous run of every plane, so each plane's share is one copy.
  Status upload_quantized(const WeightView& v, const quant::DeviceLayout& whole, void* dst, int64_t row0) {
    const size_t slack = quant::kPlaneAlign * whole.planes.size();
    if (v.row_bytes + slack > kChunkBytes) {
      return Error(ErrorCode::model_bad_tensor_shape, "tensor " + v.name + " has rows larger than the upload buffer");
    }
    const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>((kChunkBytes - slack) / v.row_bytes));
    for (int64_t r0 = 0; r0 < v.rows; r0 += rows_per_chunk) {
      const int64_t n = std::min(rows_per_chunk, v.rows - r0);
      auto chunk = quant::device_layout(v.type, n, v.cols);
      if (!chunk) return chunk.take_error();
      const int b = next_buffer();
      LLMD_CUDA_TRY(health_, cudaEventSynchronize(done_[b]));
      quant::to_device_layout(*chunk, v.row(r0), pinned_[b].get());
      for (size_t p = 0; p < whole.planes.size(); ++p) {
        const quant::Plane& from = chunk->planes[p];
        LLMD_CUDA_TRY(health_, cudaMemcpyAsync(static_cast<char*>(dst) + quant::plane_rows_offset(whole, p, row0 + r0),
                                               static_cast<const char*>(pinned_[b].get()) + from.offset, from.bytes,
                                               cudaMemcpyHostToDevice, stream_));
      }
      LLMD_CUDA_TRY(health_, cudaEventRecord(done_[b], stream_));
    }
    return ok_status();
  }

  Status finish() {
    LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
    return ok_status();
  }

 private:
  int next_buffer() {
    const int b = next_;
    next_ ^= 1;
    return b;
  }

  DeviceHealth& health_;
  cudaStream_t stream_;
  PinnedBuffer pinned_[2];
  DeviceBuffer staging_[2];
  cudaEvent_t done_[2] = {nullptr, nullptr};
  int next_ = 0;
};

bool is_matrix_type(GgmlType t, GgmlType want) { return t == want; }

DType embd_type_for(GgmlType t, DType wtype) {
  switch (t) {
    case GgmlType::F32: return DType::f32;
    case GgmlType::F16: return DType::f16;
    case GgmlType::BF16: return DType::bf16;
    default: return wtype;
  }
}

size_t elems_bytes(int64_t rows, int64_t cols, DType t) {
  return static_cast<size_t>(rows) * static_cast<size_t>(cols) * dtype_size(t);
}

Status check_free(DeviceHealth& health, uint64_t need, const char* what) {
  size_t free_b = 0, total_b = 0;
  LLMD_CUDA_TRY(health, cudaMemGetInfo(&free_b, &total_b));
  if (need > free_b) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s need %.2f GiB of device memory, %.2f GiB of %.2f GiB free", what,
                  static_cast<double>(need) / (1ull << 30), static_cast<double>(free_b) / (1ull << 30),
                  static_cast<double>(total_b) / (1ull << 30));
    return Error(errc::kOutOfMemory, buf);
  }
  return ok_status();
}

Status alloc_into(DevicePool& pool, size_t bytes, const char* what, void** p) {
  auto r = pool.alloc(bytes, what);
  if (!r) return r.take_error();
  *p = *r;
  return ok_status();
}

// ---------------------------------------------------------------------------
// File models: each projection planned (which tensors stack, which stay
// quantized), sized, then allocated and uploaded.
// ---------------------------------------------------------------------------

// One part of a projection: consecutive tensors whose rows stack.
struct PartPlan {
  std::vector<const WeightView*> views;
  bool quantized = false;
  quant::DeviceLayout layout;  // of the stacked rows, when quantized
  int64_t rows = 0;
  int64_t cols = 0;
  size_t bytes = 0;
};

struct MatrixPlan {
  std::vector<PartPlan> parts;
  const char* what = "";
  size_t bytes() const {
    size_t b = 0;
    for (const PartPlan& p : parts) b += p.bytes;
    return b;
  }
};

bool stays_quantized(const WeightView& v, bool keep) {
  return keep && quant::is_quantized_device_type(v.type) && quant::device_layout(v.type, v.rows, v.cols).ok();
}

// Tensors stack into one part while they are all dense (converted to
// dense_type) or all kept quantized in one type.
Result<MatrixPlan> plan_matrix(std::initializer_list<const WeightView*> views, bool keep, DType dense_type,
                               const char* what) {
  MatrixPlan m;
  m.what = what;
  for (const WeightView* v : views) {
    const bool q = stays_quantized(*v, keep);
    PartPlan* last = m.parts.empty() ? nullptr : &m.parts.back();
    if (last && last->cols != v->cols) {
      return Error(ErrorCode::model_bad_tensor_shape, "tensor " + v->name + " does not stack with the tensors before it");
    }
    if (!last || last->quantized != q || (q && last->views.front()->type != v->type)) {
      m.parts.emplace_back();
      last = &m.parts.back();
      last->quantized = q;
      last->cols = v->cols;
    }
    last->views.push_back(v);
    last->rows += v->rows;
  }
  if (m.parts.size() > static_cast<size_t>(DeviceMatrix::kMaxParts)) {
    return Error(ErrorCode::model_bad_tensor_shape, std::string("too many parts for the ") + what);
  }
  for (PartPlan& p : m.parts) {
    if (p.quantized) {
      auto l = quant::device_layout(p.views.front()->type, p.rows, p.cols);
      if (!l) return l.take_error();
      p.layout = std::move(*l);
      p.bytes = p.layout.total_bytes;
    } else {
      p.bytes = elems_bytes(p.rows, p.cols, dense_type);
    }
  }
  return m;
}

Status upload_matrix(const MatrixPlan& plan, DType dense_type, DevicePool& pool, Uploader& up, DeviceMatrix* out,
                     int* quantized_parts) {
  *out = DeviceMatrix{};
  for (const PartPlan& p : plan.parts) {
    void* base = nullptr;
    LLMD_TRY(alloc_into(pool, p.bytes, plan.what, &base));
    int64_t row = 0;
    for (const WeightView* v : p.views) {
      if (p.quantized) {
        LLMD_TRY(up.upload_quantized(*v, p.layout, base, row));
      } else {
        LLMD_TRY(up.upload(*v, static_cast<char*>(base) + elems_bytes(row, p.cols, dense_type), dense_type));
      }
      row += v->rows;
    }
    MatrixPart& part = out->parts[out->n_parts++];
    part.w = base;
    part.rows = static_cast<int>(p.rows);
    part.cols = static_cast<int>(p.cols);
    part.quantized = p.quantized;
    if (p.quantized) {
      part.type = p.layout.type;
      part.planes = quant::plane_offsets(p.layout);
      ++*quantized_parts;
    }
    out->rows += part.rows;
    out->cols = part.cols;
  }
  return ok_status();
}

// ---------------------------------------------------------------------------
// Random models: every matrix dense, one allocation each.
// ---------------------------------------------------------------------------

DeviceMatrix dense_matrix(const void* w, int64_t rows, int64_t cols) {
  DeviceMatrix m;
  m.n_parts = 1;
  m.parts[0].w = w;
  m.parts[0].rows = static_cast<int>(rows);
  m.parts[0].cols = static_cast<int>(cols);
  m.rows = static_cast<int>(rows);
  m.cols = static_cast<int>(cols);
  return m;
}

}  // namespace

DType choose_weight_type(const Model& model) {
  const ModelConfig& c = model.config();
  bool all_f32 = true, any_f32 = false, any_bf16 = false;
  auto see = [&](const WeightView& v) {
    all_f32 = all_f32 && is_matrix_type(v.type, GgmlType::F32);
    any_f32 = any_f32 || is_matrix_type(v.type, GgmlType::F32);
    any_bf16 = any_bf16 || is_matrix_type(v.type, GgmlType::BF16);
  };
  see(model.output());
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = model.layer(l);
    for (const WeightView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) see(*v);
  }
  if (all_f32) return DType::f32;
  // F16 and the block-quantized types compute in f16: its 11-bit significand
  // keeps a dequantized weight (scale x small integer) far closer than bf16's 8
  // bits would. BF16 weights stay bf16, and so do mixes with F32 (range).
  if (!any_bf16 && !any_f32) return DType::f16;
  return DType::bf16;
}

uint64_t weight_bytes_on_device(const ModelConfig& c, DType wtype, DType embd_type) {
  const int64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  uint64_t b = elems_bytes(V, E, embd_type) + elems_bytes(1, E, DType::f32);
  if (!c.tied_output) b += elems_bytes(V, E, wtype);
  const uint64_t per_layer = elems_bytes(1, E, DType::f32) * 2 + elems_bytes(Q + 2 * KV, E, wtype) +
                             (c.qkv_bias ? elems_bytes(1, Q + 2 * KV, DType::f32) : 0) + elems_bytes(E, Q, wtype) +
                             elems_bytes(2 * F, E, wtype) + elems_bytes(E, F, wtype);
  return b + per_layer * static_cast<uint64_t>(c.n_layer);
}

Status upload_weights(const Model& model, DType wtype, bool keep_quantized, DevicePool& pool, DeviceHealth& health,
                      cudaStream_t stream, DeviceWeights* out) {
  const ModelConfig& c = model.config();
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim();
  // A tied output is a matrix of the GEMMs: a dense embedding is stored in
  // wtype then.
  const DType embd_type = c.tied_output ? wtype : embd_type_for(model.token_embd().type, wtype);

  struct LayerPlan {
    MatrixPlan qkv, o, gu, down;
  };
  auto embd = plan_matrix({&model.token_embd()}, keep_quantized, embd_type, "token embedding");
  if (!embd) return embd.take_error();
  MatrixPlan head;
  if (!c.tied_output) {
    auto h = plan_matrix({&model.output()}, keep_quantized, wtype, "output matrix");
    if (!h) return h.take_error();
    head = std::move(*h);
  }
  std::vector<LayerPlan> plans(static_cast<size_t>(c.n_layer));
  uint64_t need = embd->bytes() + head.bytes() + elems_bytes(1, E, DType::f32);
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& W = model.layer(l);
    LayerPlan& P = plans[static_cast<size_t>(l)];
    auto qkv = plan_matrix({&W.wq, &W.wk, &W.wv}, keep_quantized, wtype, "QKV matrix");
    auto o = plan_matrix({&W.wo}, keep_quantized, wtype, "attention output matrix");
    auto gu = plan_matrix({&W.w_gate, &W.w_up}, keep_quantized, wtype, "gate/up matrix");
    auto down = plan_matrix({&W.w_down}, keep_quantized, wtype, "down matrix");
    for (auto* r : {&qkv, &o, &gu, &down})
      if (!*r) return r->take_error();
    P = {std::move(*qkv), std::move(*o), std::move(*gu), std::move(*down)};
    need += P.qkv.bytes() + P.o.bytes() + P.gu.bytes() + P.down.bytes() + 2 * elems_bytes(1, E, DType::f32) +
            (c.qkv_bias ? elems_bytes(1, Q + 2 * KV, DType::f32) : 0);
  }
  LLMD_TRY(check_free(health, need + (size_t{256} << 20), "the model's weights"));

  Uploader up(health, stream);
  LLMD_TRY(up.init());
  DeviceWeights w;
  w.wtype = wtype;
  w.embd_type = embd_type;
  LLMD_TRY(upload_matrix(*embd, embd_type, pool, up, &w.tok_embd, &w.quantized_parts));
  void* p = nullptr;
  LLMD_TRY(alloc_into(pool, elems_bytes(1, E, DType::f32), "output norm", &p));
  w.out_norm = static_cast<float*>(p);
  LLMD_TRY(up.upload(model.output_norm(), p, DType::f32));
  if (c.tied_output) {
    w.out_w = w.tok_embd;
  } else {
    LLMD_TRY(upload_matrix(head, wtype, pool, up, &w.out_w, &w.quantized_parts));
  }
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& W = model.layer(l);
    const LayerPlan& P = plans[static_cast<size_t>(l)];
    DeviceLayer& L = w.layers[static_cast<size_t>(l)];
    LLMD_TRY(alloc_into(pool, elems_bytes(1, E, DType::f32), "attention norm", &p));
    L.attn_norm = static_cast<float*>(p);
    LLMD_TRY(up.upload(W.attn_norm, p, DType::f32));
    LLMD_TRY(upload_matrix(P.qkv, wtype, pool, up, &L.wqkv, &w.quantized_parts));
    if (c.qkv_bias) {
      LLMD_TRY(alloc_into(pool, elems_bytes(1, Q + 2 * KV, DType::f32), "QKV bias", &p));
      float* b = static_cast<float*>(p);
      L.bqkv = b;
      LLMD_TRY(up.upload(W.bq, b, DType::f32));
      LLMD_TRY(up.upload(W.bk, b + Q, DType::f32));
      LLMD_TRY(up.upload(W.bv, b + Q + KV, DType::f32));
    }
    LLMD_TRY(upload_matrix(P.o, wtype, pool, up, &L.wo, &w.quantized_parts));
    LLMD_TRY(alloc_into(pool, elems_bytes(1, E, DType::f32), "FFN norm", &p));
    L.ffn_norm = static_cast<float*>(p);
    LLMD_TRY(up.upload(W.ffn_norm, p, DType::f32));
    LLMD_TRY(upload_matrix(P.gu, wtype, pool, up, &L.wgu, &w.quantized_parts));
    LLMD_TRY(upload_matrix(P.down, wtype, pool, up, &L.wdown, &w.quantized_parts));
  }
  LLMD_TRY(up.finish());
  w.bytes = need;
  *out = std::move(w);
  return ok_status();
}

Status random_weights(const ModelConfig& c, DType wtype, uint64_t seed, DevicePool& pool, DeviceHealth& health,
                      cudaStream_t stream, DeviceWeights* out) {
  const int64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  const DType embd_type = wtype;
  const uint64_t need = weight_bytes_on_device(c, wtype, embd_type);
  LLMD_TRY(check_free(health, need + (size_t{256} << 20), "the model's weights"));
  uint64_t salt = 0;
  // Allocates and fills one tensor.
  auto make = [&](const char* what, DType t, int64_t rows, int64_t cols, float lo, float hi, void** p) -> Status {
    LLMD_TRY(alloc_into(pool, elems_bytes(rows, cols, t), what, p));
    LLMD_CUDA_TRY(health, launch_fill_random(*p, t, static_cast<size_t>(rows) * static_cast<size_t>(cols), lo, hi,
                                             seed * 0x100000001B3ull + (++salt), stream));
    return ok_status();
  };
  auto fan = [](int64_t k) { return 1.0f / std::sqrt(static_cast<float>(k)); };
  DeviceWeights w;
  w.wtype = wtype;
  w.embd_type = embd_type;
  void* p = nullptr;
  LLMD_TRY(make("token embedding", embd_type, V, E, -1.0f, 1.0f, &p));
  w.tok_embd = dense_matrix(p, V, E);
  LLMD_TRY(make("output norm", DType::f32, 1, E, 0.9f, 1.1f, &p));
  w.out_norm = static_cast<float*>(p);
  if (c.tied_output) {
    w.out_w = w.tok_embd;
  } else {
    LLMD_TRY(make("output matrix", wtype, V, E, -fan(E), fan(E), &p));
    w.out_w = dense_matrix(p, V, E);
  }
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (DeviceLayer& L : w.layers) {
    LLMD_TRY(make("attention norm", DType::f32, 1, E, 0.9f, 1.1f, &p));
    L.attn_norm = static_cast<float*>(p);
    LLMD_TRY(make("QKV matrix", wtype, Q + 2 * KV, E, -fan(E), fan(E), &p));
    L.wqkv = dense_matrix(p, Q + 2 * KV, E);
    if (c.qkv_bias) {
      LLMD_TRY(make("QKV bias", DType::f32, 1, Q + 2 * KV, -0.1f, 0.1f, &p));
      L.bqkv = static_cast<float*>(p);
    }
    LLMD_TRY(make("attention output matrix", wtype, E, Q, -fan(Q), fan(Q), &p));
    L.wo = dense_matrix(p, E, Q);
    LLMD_TRY(make("FFN norm", DType::f32, 1, E, 0.9f, 1.1f, &p));
    L.ffn_norm = static_cast<float*>(p);
    LLMD_TRY(make("gate/up matrix", wtype, 2 * F, E, -fan(E), fan(E), &p));
    L.wgu = dense_matrix(p, 2 * F, E);
    LLMD_TRY(make("down matrix", wtype, E, F, -fan(F), fan(F), &p));
    L.wdown = dense_matrix(p, E, F);
  }
  LLMD_CUDA_TRY(health, cudaStreamSynchronize(stream));
  w.bytes = need;
  *out = std::move(w);
  return ok_status();
}

}  // namespace llmd::engine::cuda
