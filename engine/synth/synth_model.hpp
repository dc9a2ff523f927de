// Deterministic random-weight GGUF models of a given shape and weight type,
// written with the project's GgufWriter one tensor at a time. The same shape,
// type and seed always give the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "engine/synth/synth_shapes.hpp"

namespace llmd::engine::synth {

struct SynthOptions {
  // Weight type of the matrices: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k,
  // or a mix like the common downloads: q4_k_m / q5_k_m (attn_v, ffn_down and
  // output in q6_K, the rest in q4_K / q5_K). Matrices whose rows are not a
  // whole number of 256-element blocks fall back to q8_0 for K-quant types.
  // Norms, biases and rope_freqs are always f32.
  std::string type = "f16";
  uint64_t seed = 1;
  int threads = 0;  // threads generating one tensor; 0 = all cores
  // Pooling type written as "{arch}.pooling_type": -1 = the shape's own,
  // 0 = none (not an embedding model), 1 mean, 2 cls, 3 last.
  int pooling = -1;
  // Control tokens with these texts take the vocabulary's last ids (in
  // order), in place of generated word pieces: a test model that has a
  // template's special tokens ("<|START_ACTION|>").
  std::vector<std::string> control_tokens;
};

// Builds a writer holding the metadata, the generated vocabulary and the
// tensors (generated lazily while writing).
Result<gguf::GgufWriter> make_synth_writer(const SynthShape& shape, const SynthOptions& opts);

Status write_synth_model(const SynthShape& shape, const SynthOptions& opts, const std::string& path);

// The per-layer Llama 3.1 frequency factors for a shape (empty unless
// shape.llama3_rope_freqs): head_dim / 2 values.
std::vector<float> llama3_rope_factors(const SynthShape& shape);

}  // namespace llmd::engine::synth
