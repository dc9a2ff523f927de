// A loaded Llama-family model: its hyperparameters and validated views of its
// weight tensors inside the memory-mapped GGUF file. Backends build their own
// device layouts from these views; the Model must outlive every backend made
// from it (the CPU backend reads token embeddings from the mapping).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_reader.hpp"
#include "engine/model/model_config.hpp"

namespace llmd::engine {

// One tensor of the file, as a matrix of `rows` rows of `cols` elements
// (GGUF dims[0] = cols). Vectors (norms, biases) have rows == 1.
struct WeightView {
  std::string name;
  gguf::GgmlType type = gguf::GgmlType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t row_bytes = 0;
  const uint8_t* data = nullptr;  // rows * row_bytes bytes

  bool valid() const { return data != nullptr; }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

struct LayerWeights {
  WeightView attn_norm;    // [n_embd]
  WeightView wq;           // [q_dim rows][n_embd]
  WeightView wk;           // [kv_dim][n_embd]
  WeightView wv;           // [kv_dim][n_embd]
  WeightView bq, bk, bv;   // [q_dim], [kv_dim], [kv_dim] when config.qkv_bias, else invalid
  WeightView q_norm, k_norm;  // [head_dim] each when config.qk_norm, else invalid
  WeightView wo;           // [n_embd][q_dim]
  WeightView ffn_norm;     // [n_embd]
  WeightView w_gate;       // [n_ff][n_embd]
  WeightView w_up;         // [n_ff][n_embd]
  WeightView w_down;       // [n_embd][n_ff]
};

class Model {
 public:
  // Maps, parses and validates a GGUF model. Error codes: gguf_* from the
  // reader, model_unsupported_arch, model_bad_metadata, model_missing_tensor,
  // model_bad_tensor_shape, model_unsupported_type.
  static Result<std::unique_ptr<Model>> load(const std::string& gguf_path);
  // Same over an already opened file (tests build models in memory).
  static Result<std::unique_ptr<Model>> from_gguf(std::unique_ptr<gguf::GgufFile> file);

  const ModelConfig& config() const { return config_; }
  const gguf::GgufFile& gguf() const { return *file_; }

  const WeightView& token_embd() const { return token_embd_; }  // [n_vocab][n_embd]
  const WeightView& output_norm() const { return output_norm_; }  // [n_embd]
  // [n_vocab][n_embd]; the token embedding itself when config().tied_output.
  const WeightView& output() const { return config_.tied_output ? token_embd_ : output_; }
  const LayerWeights& layer(int i) const { return layers_[static_cast<size_t>(i)]; }

  // RoPE inverse frequencies, one per rotated pair (n_rot / 2): base^(-2i/n_rot),
  // divided by rope_freqs[i] when present and by the linear scaling factor.
  const std::vector<double>& rope_inv_freq() const { return rope_inv_freq_; }

  // Total bytes of all weight tensors.
  uint64_t weight_bytes() const { return weight_bytes_; }

 private:
  Model() = default;
  Status bind_tensors();

  std::unique_ptr<gguf::GgufFile> file_;
  ModelConfig config_;
  WeightView token_embd_, output_norm_, output_;
  std::vector<LayerWeights> layers_;
  std::vector<double> rope_inv_freq_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace llmd::engine
