#include "engine/model/model.hpp"

#include <cmath>

#include "engine/quant/dequantize.hpp"

namespace llmd::engine {
namespace {

std::string shape_string(const gguf::GgufTensorInfo& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.dims.size(); ++i) s += (i ? ", " : "") + std::to_string(t.dims[i]);
  return s + "]";
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& gguf_path) {
  auto file = gguf::GgufFile::open(gguf_path);
  if (!file) return file.take_error();
  return from_gguf(std::move(*file));
}

Result<std::unique_ptr<Model>> Model::from_gguf(std::unique_ptr<gguf::GgufFile> file) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  auto cfg = ModelConfig::from_gguf(*m->file_);
  if (!cfg) return cfg.take_error();
  m->config_ = std::move(*cfg);
  if (Status st = m->bind_tensors(); !st) return st.take_error();
  return m;
}

Status Model::bind_tensors() {
  const gguf::GgufFile& f = *file_;
  const ModelConfig& c = config_;

  // Looks up `name` and checks it is a `rows` x `cols` matrix (rows == 0: a
  // vector of `cols`) of a supported type.
  auto bind = [&](const std::string& name, int64_t rows, int64_t cols, WeightView* out) -> Status {
    const gguf::GgufTensorInfo* t = f.find_tensor(name);
    if (!t) return Error(ErrorCode::model_missing_tensor, f.name() + ": missing tensor " + name);
    const bool vector = rows == 0;
    const bool shape_ok = vector ? (t->dims.size() == 1 && t->dims[0] == static_cast<uint64_t>(cols))
                                 : (t->dims.size() == 2 && t->dims[0] == static_cast<uint64_t>(cols) &&
                                    t->dims[1] == static_cast<uint64_t>(rows));
    if (!shape_ok) {
      std::string want = vector ? "[" + std::to_string(cols) + "]"
                                : "[" + std::to_string(cols) + ", " + std::to_string(rows) + "]";
      return Error(ErrorCode::model_bad_tensor_shape,
                   f.name() + ": tensor " + name + " has shape " + shape_string(*t) + ", expected " + want);
    }
    if (!quant::is_supported_weight_type(t->type)) {
      return Error(ErrorCode::model_unsupported_type, f.name() + ": tensor " + name + " has type " +
                                                 std::string(gguf::ggml_type_name(t->type)) +
                                                 ", which this engine cannot compute with (supported: f32, f16, "
                                                 "bf16, q8_0, q4_0, q4_K, q5_K, q6_K)");
    }
    auto rb = gguf::ggml_row_bytes(t->type, t->dims[0]);
    if (!rb) {
      return Error(ErrorCode::model_bad_tensor_shape, f.name() + ": tensor " + name + " row length " +
                                                 std::to_string(t->dims[0]) + " is not a whole number of " +
                                                 std::string(gguf::ggml_type_name(t->type)) + " blocks");
    }
    out->name = name;
    out->type = t->type;
    out->rows = vector ? 1 : rows;
    out->cols = cols;
    out->row_bytes = *rb;
    out->data = f.tensor_data(*t);
    weight_bytes_ += t->n_bytes;
    return ok_status();
  };

#define LLMD_BIND(name, rows, cols, out)                         \
  do {                                                           \
    if (Status st_ = bind((name), (rows), (cols), (out)); !st_) return st_; \
  } while (0)

  const int64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
  LLMD_BIND("token_embd.weight", V, E, &token_embd_);
  LLMD_BIND("output_norm.weight", 0, E, &output_norm_);
  if (!c.tied_output) LLMD_BIND("output.weight", V, E, &output_);

  layers_.assign(static_cast<size_t>(c.n_layer), LayerWeights{});
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    LayerWeights& L = layers_[static_cast<size_t>(i)];
    LLMD_BIND(b + "attn_norm.weight", 0, E, &L.attn_norm);
    LLMD_BIND(b + "attn_q.weight", Q, E, &L.wq);
    LLMD_BIND(b + "attn_k.weight", KV, E, &L.wk);
    LLMD_BIND(b + "attn_v.weight", KV, E, &L.wv);
    LLMD_BIND(b + "attn_output.weight", E, Q, &L.wo);
    if (c.qkv_bias) {
      LLMD_BIND(b + "attn_q.bias", 0, Q, &L.bq);
      LLMD_BIND(b + "attn_k.bias", 0, KV, &L.bk);
      LLMD_BIND(b + "attn_v.bias", 0, KV, &L.bv);
    }
    if (c.qk_norm) {
      LLMD_BIND(b + "attn_q_norm.weight", 0, c.head_dim, &L.q_norm);
      LLMD_BIND(b + "attn_k_norm.weight", 0, c.head_dim, &L.k_norm);
    }
    LLMD_BIND(b + "ffn_norm.weight", 0, E, &L.ffn_norm);
    LLMD_BIND(b + "ffn_gate.weight", F, E, &L.w_gate);
    LLMD_BIND(b + "ffn_up.weight", F, E, &L.w_up);
    LLMD_BIND(b + "ffn_down.weight", E, F, &L.w_down);
  }

  // RoPE frequencies.
  const int half = c.n_rot / 2;
  std::vector<float> factors(static_cast<size_t>(half), 1.0f);
  if (c.has_rope_freqs) {
    WeightView rf;
    LLMD_BIND("rope_freqs.weight", 0, half, &rf);
    if (!quant::dequantize_row(rf.type, rf.data, factors.data(), half))
      return Error(ErrorCode::model_unsupported_type, f.name() + ": rope_freqs.weight cannot be read");
    for (int i = 0; i < half; ++i) {
      if (!(factors[static_cast<size_t>(i)] > 0.0f) || !std::isfinite(factors[static_cast<size_t>(i)]))
        return Error(ErrorCode::model_bad_tensor_data, f.name() + ": rope_freqs.weight holds a non-positive factor");
    }
  }
#undef LLMD_BIND
  const double linear = c.rope_scaling == RopeScaling::linear ? static_cast<double>(c.rope_scale_factor) : 1.0;
  rope_inv_freq_.resize(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    const double base = std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.n_rot);
    rope_inv_freq_[static_cast<size_t>(i)] = base / static_cast<double>(factors[static_cast<size_t>(i)]) / linear;
  }
  return ok_status();
}

}  // namespace llmd::engine
