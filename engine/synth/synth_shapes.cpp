#include "engine/synth/synth_shapes.hpp"

#include <vector>

namespace llmd::engine::synth {
namespace {

std::vector<SynthShape> make_shapes() {
  std::vector<SynthShape> v;
  auto add = [&](SynthShape s) { v.push_back(std::move(s)); };
  // Real model shapes.
  add({.name = "tinyllama-1.1b", .n_vocab = 32000, .n_embd = 2048, .n_layer = 22, .n_head = 32, .n_head_kv = 4,
       .n_ff = 5632, .n_ctx = 2048});
  add({.name = "llama-2-7b", .n_vocab = 32000, .n_embd = 4096, .n_layer = 32, .n_head = 32, .n_head_kv = 32,
       .n_ff = 11008, .n_ctx = 4096});
  add({.name = "mistral-7b", .n_vocab = 32000, .n_embd = 4096, .n_layer = 32, .n_head = 32, .n_head_kv = 8,
       .n_ff = 14336, .n_ctx = 32768, .rope_base = 1000000.0f});
  add({.name = "llama-3-8b", .n_vocab = 128256, .n_embd = 4096, .n_layer = 32, .n_head = 32, .n_head_kv = 8,
       .n_ff = 14336, .n_ctx = 8192, .rope_base = 500000.0f});
  add({.name = "llama-3.1-8b", .n_vocab = 128256, .n_embd = 4096, .n_layer = 32, .n_head = 32, .n_head_kv = 8,
       .n_ff = 14336, .n_ctx = 131072, .rope_base = 500000.0f, .llama3_rope_freqs = true});
  add({.name = "llama-3.2-1b", .n_vocab = 128256, .n_embd = 2048, .n_layer = 16, .n_head = 32, .n_head_kv = 8,
       .n_ff = 8192, .n_ctx = 131072, .head_dim = 64, .rope_base = 500000.0f, .tied_output = true,
       .llama3_rope_freqs = true});
  add({.name = "qwen2.5-0.5b", .arch = "qwen2", .n_vocab = 151936, .n_embd = 896, .n_layer = 24, .n_head = 14,
       .n_head_kv = 2, .n_ff = 4864, .n_ctx = 32768, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .tied_output = true, .qkv_bias = true});
  add({.name = "qwen2.5-7b", .arch = "qwen2", .n_vocab = 152064, .n_embd = 3584, .n_layer = 28, .n_head = 28,
       .n_head_kv = 4, .n_ff = 18944, .n_ctx = 32768, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .qkv_bias = true});
  add({.name = "qwen3-0.6b", .arch = "qwen3", .n_vocab = 151936, .n_embd = 1024, .n_layer = 28, .n_head = 16,
       .n_head_kv = 8, .n_ff = 3072, .n_ctx = 40960, .head_dim = 128, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .tied_output = true, .qk_norm = true});
  add({.name = "qwen3-embedding-0.6b", .arch = "qwen3", .n_vocab = 151669, .n_embd = 1024, .n_layer = 28,
       .n_head = 16, .n_head_kv = 8, .n_ff = 3072, .n_ctx = 32768, .head_dim = 128, .rms_eps = 1e-6f,
       .rope_base = 1000000.0f, .tied_output = true, .qk_norm = true, .pooling = 3});
  add({.name = "qwen3-8b", .arch = "qwen3", .n_vocab = 151936, .n_embd = 4096, .n_layer = 36, .n_head = 32,
       .n_head_kv = 8, .n_ff = 12288, .n_ctx = 40960, .head_dim = 128, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .qk_norm = true});
  // Small test shapes (rows multiple of 256 so every block type fits).
  add({.name = "test-llama", .n_vocab = 512, .n_embd = 256, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
       .n_ff = 512, .n_ctx = 512});
  add({.name = "test-llama-mha", .n_vocab = 384, .n_embd = 256, .n_layer = 2, .n_head = 4, .n_head_kv = 4,
       .n_ff = 256, .n_ctx = 512, .rope_base = 500000.0f, .linear_rope_scale = 4.0f});
  add({.name = "test-llama3", .n_vocab = 512, .n_embd = 256, .n_layer = 2, .n_head = 8, .n_head_kv = 2,
       .n_ff = 768, .n_ctx = 1024, .head_dim = 32, .rope_base = 500000.0f, .tied_output = true,
       .llama3_rope_freqs = true, .rope_orig_ctx = 64});
  add({.name = "test-qwen2", .arch = "qwen2", .n_vocab = 512, .n_embd = 256, .n_layer = 2, .n_head = 4,
       .n_head_kv = 1, .n_ff = 512, .n_ctx = 512, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .tied_output = true, .qkv_bias = true});
  // head_dim 128 with 4 heads: q_dim (512) differs from n_embd (256).
  add({.name = "test-qwen3", .arch = "qwen3", .n_vocab = 512, .n_embd = 256, .n_layer = 2, .n_head = 4,
       .n_head_kv = 2, .n_ff = 512, .n_ctx = 512, .head_dim = 128, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .tied_output = true, .qk_norm = true});
  add({.name = "test-qwen3-embed", .arch = "qwen3", .n_vocab = 512, .n_embd = 256, .n_layer = 2, .n_head = 4,
       .n_head_kv = 2, .n_ff = 512, .n_ctx = 256, .head_dim = 64, .rms_eps = 1e-6f, .rope_base = 1000000.0f,
       .qk_norm = true, .pooling = 3});
  add({.name = "test-llama-embed", .n_vocab = 512, .n_embd = 256, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
       .n_ff = 512, .n_ctx = 256, .pooling = 1});
  return v;
}

const std::vector<SynthShape>& shapes() {
  static const std::vector<SynthShape> s = make_shapes();
  return s;
}

}  // namespace

std::span<const SynthShape> synth_shapes() { return shapes(); }

const SynthShape* find_synth_shape(std::string_view name) {
  for (const auto& s : shapes())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace llmd::engine::synth
