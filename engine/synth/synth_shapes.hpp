// Shapes of real Llama-family models (and small test shapes) for writing
// deterministic random-weight GGUF files: benchmarks run on real sizes without
// downloading weights, and tests cover every architecture feature.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace llmd::engine::synth {

struct SynthShape {
  std::string name;
  std::string arch = "llama";  // "llama", "qwen2" or "qwen3"
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_ff = 0;
  int n_ctx = 2048;
  int head_dim = 0;  // 0: n_embd / n_head (written as attention.key_length otherwise)
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  bool tied_output = false;
  bool qkv_bias = false;
  bool qk_norm = false;  // per-head attn_q_norm / attn_k_norm (qwen3)
  // "{arch}.pooling_type" written when > 0 (1 mean, 2 cls, 3 last): an
  // embedding model. SynthOptions::pooling overrides it.
  int pooling = 0;
  // Llama 3.1-style frequency scaling written as a rope_freqs tensor
  // (factor 8, low/high frequency factors 1 and 4, original context
  // rope_orig_ctx).
  bool llama3_rope_freqs = false;
  int rope_orig_ctx = 8192;
  float linear_rope_scale = 0.0f;  // > 1: rope.scaling.type = linear with this factor
};

// The named shapes `llmd gguf synth --shape` knows.
std::span<const SynthShape> synth_shapes();
const SynthShape* find_synth_shape(std::string_view name);

}  // namespace llmd::engine::synth
