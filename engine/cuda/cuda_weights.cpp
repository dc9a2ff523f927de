#include "engine/cuda/cuda_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/cuda/kernels/dequant.hpp"
#include "engine/cuda/kernels/elementwise.hpp"

namespace llmd::engine::cuda {
namespace {

using gguf::GgmlType;

constexpr size_t kChunkBytes = size_t{64} << 20;  // per staged copy

// Streams tensors from the (memory-mapped) file to the device in chunks of
// whole rows: file -> pinned host -> device staging -> converted in place.
// Two chunks are in flight so the host copy overlaps the transfer.
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
      const int b = next_;
      next_ ^= 1;
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

  Status finish() {
    LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream_));
    return ok_status();
  }

 private:
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

// Allocation of every device tensor for a configuration (shared by the file
// and random paths).
struct Layout {
  void* tok_embd = nullptr;
  float* out_norm = nullptr;
  void* out_w = nullptr;
  struct L {
    float* attn_norm;
    void* wqkv;
    float* bqkv;
    void* wo;
    float* ffn_norm;
    void* wgu;
    void* wdown;
  };
  std::vector<L> layers;
};

Status allocate(const ModelConfig& c, DType wtype, DType embd_type, bool tied, DevicePool& pool, Layout* lay) {
  const int64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  auto get = [&](size_t bytes, const char* what, void** p) -> Status {
    auto r = pool.alloc(bytes, what);
    if (!r) return r.take_error();
    *p = *r;
    return ok_status();
  };
  LLMD_TRY(get(elems_bytes(V, E, embd_type), "token embedding", &lay->tok_embd));
  LLMD_TRY(get(elems_bytes(1, E, DType::f32), "output norm", reinterpret_cast<void**>(&lay->out_norm)));
  if (tied) {
    lay->out_w = lay->tok_embd;
  } else {
    LLMD_TRY(get(elems_bytes(V, E, wtype), "output matrix", &lay->out_w));
  }
  lay->layers.resize(static_cast<size_t>(c.n_layer));
  for (auto& L : lay->layers) {
    LLMD_TRY(get(elems_bytes(1, E, DType::f32), "attention norm", reinterpret_cast<void**>(&L.attn_norm)));
    LLMD_TRY(get(elems_bytes(Q + 2 * KV, E, wtype), "QKV matrix", &L.wqkv));
    L.bqkv = nullptr;
    if (c.qkv_bias) {
      LLMD_TRY(get(elems_bytes(1, Q + 2 * KV, DType::f32), "QKV bias", reinterpret_cast<void**>(&L.bqkv)));
    }
    LLMD_TRY(get(elems_bytes(E, Q, wtype), "attention output matrix", &L.wo));
    LLMD_TRY(get(elems_bytes(1, E, DType::f32), "FFN norm", reinterpret_cast<void**>(&L.ffn_norm)));
    LLMD_TRY(get(elems_bytes(2 * F, E, wtype), "gate/up matrix", &L.wgu));
    LLMD_TRY(get(elems_bytes(E, F, wtype), "down matrix", &L.wdown));
  }
  return ok_status();
}

void publish(const Layout& lay, DType wtype, DType embd_type, uint64_t bytes, DeviceWeights* out) {
  out->wtype = wtype;
  out->embd_type = embd_type;
  out->tok_embd = lay.tok_embd;
  out->out_norm = lay.out_norm;
  out->out_w = lay.out_w;
  out->bytes = bytes;
  out->layers.clear();
  for (const auto& L : lay.layers) {
    out->layers.push_back({L.attn_norm, L.wqkv, L.bqkv, L.wo, L.ffn_norm, L.wgu, L.wdown});
  }
}

void* offset_rows(void* base, int64_t rows, int64_t cols, DType t) {
  return static_cast<char*>(base) + elems_bytes(rows, cols, t);
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

Status upload_weights(const Model& model, DType wtype, DevicePool& pool, DeviceHealth& health, cudaStream_t stream,
                      DeviceWeights* out) {
  const ModelConfig& c = model.config();
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  // A tied output is a matrix of the GEMMs: store the embedding in wtype then.
  const DType embd_type = c.tied_output ? wtype : embd_type_for(model.token_embd().type, wtype);
  const uint64_t need = weight_bytes_on_device(c, wtype, embd_type);
  LLMD_TRY(check_free(health, need + (size_t{256} << 20), "the model's weights"));

  Layout lay;
  LLMD_TRY(allocate(c, wtype, embd_type, c.tied_output, pool, &lay));
  Uploader up(health, stream);
  LLMD_TRY(up.init());
  LLMD_TRY(up.upload(model.token_embd(), lay.tok_embd, embd_type));
  LLMD_TRY(up.upload(model.output_norm(), lay.out_norm, DType::f32));
  if (!c.tied_output) LLMD_TRY(up.upload(model.output(), lay.out_w, wtype));
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& W = model.layer(l);
    const auto& L = lay.layers[static_cast<size_t>(l)];
    LLMD_TRY(up.upload(W.attn_norm, L.attn_norm, DType::f32));
    LLMD_TRY(up.upload(W.wq, L.wqkv, wtype));
    LLMD_TRY(up.upload(W.wk, offset_rows(L.wqkv, Q, E, wtype), wtype));
    LLMD_TRY(up.upload(W.wv, offset_rows(L.wqkv, Q + KV, E, wtype), wtype));
    if (c.qkv_bias) {
      LLMD_TRY(up.upload(W.bq, L.bqkv, DType::f32));
      LLMD_TRY(up.upload(W.bk, L.bqkv + Q, DType::f32));
      LLMD_TRY(up.upload(W.bv, L.bqkv + Q + KV, DType::f32));
    }
    LLMD_TRY(up.upload(W.wo, L.wo, wtype));
    LLMD_TRY(up.upload(W.ffn_norm, L.ffn_norm, DType::f32));
    LLMD_TRY(up.upload(W.w_gate, L.wgu, wtype));
    LLMD_TRY(up.upload(W.w_up, offset_rows(L.wgu, F, E, wtype), wtype));
    LLMD_TRY(up.upload(W.w_down, L.wdown, wtype));
  }
  LLMD_TRY(up.finish());
  publish(lay, wtype, embd_type, need, out);
  return ok_status();
}

Status random_weights(const ModelConfig& c, DType wtype, uint64_t seed, DevicePool& pool, DeviceHealth& health,
                      cudaStream_t stream, DeviceWeights* out) {
  const int64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  const DType embd_type = wtype;
  const uint64_t need = weight_bytes_on_device(c, wtype, embd_type);
  LLMD_TRY(check_free(health, need + (size_t{256} << 20), "the model's weights"));
  Layout lay;
  LLMD_TRY(allocate(c, wtype, embd_type, c.tied_output, pool, &lay));
  uint64_t salt = 0;
  auto fill = [&](void* p, DType t, int64_t rows, int64_t cols, float lo, float hi) -> Status {
    LLMD_CUDA_TRY(health, launch_fill_random(p, t, static_cast<size_t>(rows) * static_cast<size_t>(cols), lo, hi,
                                             seed * 0x100000001B3ull + (++salt), stream));
    return ok_status();
  };
  auto fan = [](int64_t k) { return 1.0f / std::sqrt(static_cast<float>(k)); };
  LLMD_TRY(fill(lay.tok_embd, embd_type, V, E, -1.0f, 1.0f));
  LLMD_TRY(fill(lay.out_norm, DType::f32, 1, E, 0.9f, 1.1f));
  if (!c.tied_output) LLMD_TRY(fill(lay.out_w, wtype, V, E, -fan(E), fan(E)));
  for (const auto& L : lay.layers) {
    LLMD_TRY(fill(L.attn_norm, DType::f32, 1, E, 0.9f, 1.1f));
    LLMD_TRY(fill(L.wqkv, wtype, Q + 2 * KV, E, -fan(E), fan(E)));
    if (L.bqkv) LLMD_TRY(fill(L.bqkv, DType::f32, 1, Q + 2 * KV, -0.1f, 0.1f));
    LLMD_TRY(fill(L.wo, wtype, E, Q, -fan(Q), fan(Q)));
    LLMD_TRY(fill(L.ffn_norm, DType::f32, 1, E, 0.9f, 1.1f));
    LLMD_TRY(fill(L.wgu, wtype, 2 * F, E, -fan(E), fan(E)));
    LLMD_TRY(fill(L.wdown, wtype, E, F, -fan(F), fan(F)));
  }
  LLMD_CUDA_TRY(health, cudaStreamSynchronize(stream));
  publish(lay, wtype, embd_type, need, out);
  return ok_status();
}

}  // namespace llmd::engine::cuda
