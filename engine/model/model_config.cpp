#include "engine/model/model_config.hpp"

#include <cmath>
#include <optional>
#include <string_view>

namespace llmd::engine {
namespace {

constexpr int32_t kMaxDim = 1 << 20;  // sanity bound for every size

Error bad(const gguf::GgufFile& f, const std::string& what) {
  return Error(ErrorCode::model_bad_metadata, f.name() + ": " + what);
}

// An integer key that must be present and in [lo, hi].
Result<int32_t> get_int(const gguf::GgufFile& f, const std::string& key, int64_t lo, int64_t hi) {
  const gguf::GgufValue* v = f.find(key);
  if (!v) return bad(f, "missing metadata key " + key);
  auto i = v->as_i64();
  if (!i) return bad(f, "metadata key " + key + " is not an integer");
  if (*i < lo || *i > hi)
    return bad(f, "metadata key " + key + " = " + std::to_string(*i) + " is out of range [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "]");
  return static_cast<int32_t>(*i);
}

// An optional integer key; absent gives `def`.
Result<int32_t> get_int_or(const gguf::GgufFile& f, const std::string& key, int32_t def, int64_t lo, int64_t hi) {
  if (!f.find(key)) return def;
  return get_int(f, key, lo, hi);
}

Result<float> get_float_or(const gguf::GgufFile& f, const std::string& key, float def) {
  const gguf::GgufValue* v = f.find(key);
  if (!v) return def;
  std::optional<double> d = v->as_f64();
  if (!d) {
    if (auto i = v->as_i64()) d = static_cast<double>(*i);
  }
  if (!d || !std::isfinite(*d)) return bad(f, "metadata key " + key + " is not a finite number");
  return static_cast<float>(*d);
}

// Stores a read value in *dst, or passes the read's error on.
template <typename T, typename U>
Status assign_to(T* dst, Result<U> r) {
  if (!r) return r.take_error();
  *dst = *r;
  return ok_status();
}

}  // namespace

const char* pooling_name(PoolingType p) {
  switch (p) {
    case PoolingType::none: return "none";
    case PoolingType::mean: return "mean";
    case PoolingType::cls: return "cls";
    case PoolingType::last: return "last";
  }
  return "none";
}

Result<ModelConfig> ModelConfig::from_gguf(const gguf::GgufFile& f) {
  ModelConfig c;
  auto arch = f.get_string("general.architecture");
  if (!arch) return bad(f, "missing metadata key general.architecture");
  c.arch_name = *arch;
  if (c.arch_name == "llama") {
    c.arch = ModelArch::llama;
    c.rope_style = RopeStyle::adjacent;
  } else if (c.arch_name == "qwen2") {
    c.arch = ModelArch::qwen2;
    c.rope_style = RopeStyle::neox;
  } else if (c.arch_name == "qwen3") {
    c.arch = ModelArch::qwen3;
    c.rope_style = RopeStyle::neox;
  } else {
    return Error(ErrorCode::model_unsupported_arch, f.name() + ": unsupported model architecture '" + c.arch_name +
                                               "' (supported: llama, qwen2, qwen3)");
  }
  c.name = f.get_string("general.name").value_or("");
  const std::string p = c.arch_name + ".";

  LLMD_TRY(assign_to(&c.n_embd, get_int(f, p + "embedding_length", 1, kMaxDim)));
  LLMD_TRY(assign_to(&c.n_layer, get_int(f, p + "block_count", 1, 4096)));
  LLMD_TRY(assign_to(&c.n_ff, get_int(f, p + "feed_forward_length", 1, kMaxDim)));
  LLMD_TRY(assign_to(&c.n_head, get_int(f, p + "attention.head_count", 1, 4096)));
  LLMD_TRY(assign_to(&c.n_head_kv, get_int_or(f, p + "attention.head_count_kv", c.n_head, 1, 4096)));
  LLMD_TRY(assign_to(&c.n_ctx_train, get_int_or(f, p + "context_length", 4096, 1, 1 << 24)));
  if (c.n_head % c.n_head_kv != 0)
    return bad(f, "attention.head_count " + std::to_string(c.n_head) + " is not a multiple of head_count_kv " +
                      std::to_string(c.n_head_kv));
  const int32_t def_head_dim = c.n_embd % c.n_head == 0 ? c.n_embd / c.n_head : 0;
  LLMD_TRY(assign_to(&c.head_dim, get_int_or(f, p + "attention.key_length", def_head_dim, 0, 4096)));
  if (c.head_dim <= 0) return bad(f, "cannot derive the head size: embedding_length is not a multiple of head_count");
  int32_t v_len = 0;
  LLMD_TRY(assign_to(&v_len, get_int_or(f, p + "attention.value_length", c.head_dim, 1, 4096)));
  if (v_len != c.head_dim) return bad(f, "attention.value_length differs from key_length (unsupported)");
  if (c.head_dim % 2 != 0) return bad(f, "head size " + std::to_string(c.head_dim) + " is odd");
  LLMD_TRY(assign_to(&c.n_rot, get_int_or(f, p + "rope.dimension_count", c.head_dim, 2, c.head_dim)));
  if (c.n_rot % 2 != 0) return bad(f, "rope.dimension_count is odd");

  LLMD_TRY(assign_to(&c.rms_eps, get_float_or(f, p + "attention.layer_norm_rms_epsilon", 1e-5f)));
  if (!(c.rms_eps > 0.0f && c.rms_eps < 1.0f)) return bad(f, "attention.layer_norm_rms_epsilon is out of range");
  LLMD_TRY(assign_to(&c.rope_freq_base, get_float_or(f, p + "rope.freq_base", 10000.0f)));
  if (!(c.rope_freq_base > 1.0f)) return bad(f, "rope.freq_base must be > 1");

  // RoPE scaling: "none", "linear" (positions / factor). Llama 3.1-style
  // scaling arrives as the rope_freqs tensor instead.
  const std::string scaling = f.get_string(p + "rope.scaling.type").value_or("none");
  float factor = 1.0f;
  LLMD_TRY(assign_to(&factor, get_float_or(f, p + "rope.scaling.factor", 1.0f)));
  if (scaling == "linear") {
    if (!(factor >= 1.0f)) return bad(f, "rope.scaling.factor must be >= 1");
    c.rope_scaling = factor == 1.0f ? RopeScaling::none : RopeScaling::linear;
    c.rope_scale_factor = factor;
  } else if (scaling == "llama3") {
    if (!f.find_tensor("rope_freqs.weight"))
      return bad(f, "rope.scaling.type is llama3 but the rope_freqs.weight tensor is missing");
  } else if (scaling != "none") {
    return Error(ErrorCode::model_unsupported_rope, f.name() + ": unsupported rope.scaling.type '" + scaling + "'");
  }

  // Vocabulary size: the embedding's row count is authoritative.
  const gguf::GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) return Error(ErrorCode::model_missing_tensor, f.name() + ": missing tensor token_embd.weight");
  if (embd->dims.size() != 2)
    return Error(ErrorCode::model_bad_tensor_shape, f.name() + ": token_embd.weight must have 2 dimensions");
  if (embd->dims[1] > static_cast<uint64_t>(kMaxDim) * 4)
    return Error(ErrorCode::model_bad_tensor_shape, f.name() + ": token_embd.weight has too many rows");
  c.n_vocab = static_cast<int32_t>(embd->dims[1]);

  c.tied_output = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.has_rope_freqs = f.find_tensor("rope_freqs.weight") != nullptr;
  c.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  if (c.arch == ModelArch::qwen3 && !c.qk_norm)
    return Error(ErrorCode::model_missing_tensor, f.name() + ": missing tensor blk.0.attn_q_norm.weight (qwen3)");

  // Pooling of an embedding model. Types llama.cpp defines beyond these
  // (rank: a reranker's classification head) are refused by name.
  int32_t pooling = 0;
  LLMD_TRY(assign_to(&pooling, get_int_or(f, p + "pooling_type", 0, -1, 255)));
  switch (pooling) {
    case -1:  // "unspecified" in llama.cpp's numbering: no pooling declared
    case 0: c.pooling = PoolingType::none; break;
    case 1: c.pooling = PoolingType::mean; break;
    case 2: c.pooling = PoolingType::cls; break;
    case 3: c.pooling = PoolingType::last; break;
    default:
      return bad(f, p + "pooling_type = " + std::to_string(pooling) +
                        " is not supported (supported: 0 none, 1 mean, 2 cls, 3 last)");
  }
  return c;
}

}  // namespace llmd::engine
