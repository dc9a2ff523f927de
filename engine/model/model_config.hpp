// Hyperparameters of a Llama-family model, read from GGUF metadata
// ("{arch}.embedding_length", ...) and the tensor table (tied output, QKV bias,
// rope_freqs, Q/K norms). Supported architectures: "llama" (Llama 2/3,
// TinyLlama, Mistral), "qwen2" and "qwen3" (Qwen3 chat and embedding models);
// anything else is an error naming the architecture.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "engine/gguf/gguf_reader.hpp"

namespace llmd::engine {

enum class ModelArch : uint8_t { llama, qwen2, qwen3 };

// How an embedding model turns the final hidden states of a text into one
// vector (GGUF "{arch}.pooling_type", numbered as llama.cpp numbers them).
// none: not an embedding model (the key is absent or 0).
enum class PoolingType : uint8_t { none = 0, mean = 1, cls = 2, last = 3 };

// "none", "mean", "cls", "last".
const char* pooling_name(PoolingType p);

// How RoPE pairs dimensions inside a head.
enum class RopeStyle : uint8_t {
  adjacent,  // (2i, 2i+1): llama (GGUF stores Q/K rows permuted for this)
  neox,      // (i, i + n_rot/2): qwen2, qwen3
};

enum class RopeScaling : uint8_t {
  none,
  linear,  // positions divided by rope_scale_factor
};

struct ModelConfig {
  std::string arch_name;  // as in general.architecture
  ModelArch arch = ModelArch::llama;
  std::string name;       // general.name, may be empty

  int32_t n_vocab = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;     // attention.key_length, default n_embd / n_head
  int32_t n_ff = 0;
  int32_t n_ctx_train = 0;  // context_length
  int32_t n_rot = 0;        // rope.dimension_count, default head_dim

  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  RopeStyle rope_style = RopeStyle::adjacent;
  RopeScaling rope_scaling = RopeScaling::none;
  float rope_scale_factor = 1.0f;
  bool has_rope_freqs = false;  // a rope_freqs tensor (Llama 3.1 scaling) divides each frequency

  bool tied_output = false;  // no output.weight: the token embedding is the output matrix
  bool qkv_bias = false;     // attn_{q,k,v}.bias present (qwen2)
  // attn_q_norm / attn_k_norm present (qwen3): an RMSNorm over each query and
  // key head (head_dim weights shared by the heads), applied before RoPE.
  bool qk_norm = false;
  PoolingType pooling = PoolingType::none;  // an embedding model when not none

  int32_t q_dim() const { return n_head * head_dim; }
  int32_t kv_dim() const { return n_head_kv * head_dim; }
  int32_t gqa_group() const { return n_head / n_head_kv; }

  bool is_embedding() const { return pooling != PoolingType::none; }

  // Reads and validates the hyperparameters. Error codes: "model_unsupported_arch",
  // "model_bad_metadata" (also a pooling_type llmd does not implement).
  static Result<ModelConfig> from_gguf(const gguf::GgufFile& file);
};

}  // namespace llmd::engine
