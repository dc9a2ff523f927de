// The model's weights in device memory, in the layouts the CUDA forward pass
// reads. Dense matrices are converted on the device to one element type, the
// activation type (f32 when every matrix is F32, f16 when every matrix is F16
// or block-quantized, bf16 otherwise: BF16 is kept). Matrices of q8_0, q4_0,
// q4_K, q5_K and q6_K stay quantized, in the device layout of
// engine/quant/device_layout.hpp (about the file's bytes), unless the caller
// asks for them dequantized. Projections read by one pass are stacked:
//   wqkv  [q_dim + 2*kv_dim][n_embd]   rows of attn_q | attn_k | attn_v
//   wgu   [2*n_ff][n_embd]             rows of ffn_gate | ffn_up
// as one matrix when the parts are dense or quantized to one type, else as
// parts side by side (a q4_K_M file's q6_K attn_v beside q4_K attn_q/attn_k).
// Norms and biases are f32. A dense token embedding keeps F32/F16/BF16 as
// stored; a quantized one stays quantized (kept) or is dequantized to the
// matrix type; a tied output matrix shares it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/device_pool.hpp"
#include "engine/cuda/dtype.hpp"
#include "engine/gguf/ggml_type.hpp"
#include "engine/model/model.hpp"
#include "engine/quant/device_units.hpp"

namespace llmd::engine::cuda {

// One matrix in device memory: dense [rows][cols] of the weights' element
// type, or quantized in the device layout of `type`.
struct MatrixPart {
  const void* w = nullptr;
  int rows = 0;
  int cols = 0;
  bool quantized = false;
  gguf::GgmlType type = gguf::GgmlType::F32;  // the file's block type, when quantized
  quant::PlaneOffsets planes;                 // of its layout, when quantized
};

// The weights of one projection: output rows [0, parts[0].rows) come from
// parts[0], the next parts[1].rows from parts[1], and so on. Every part has
// `cols` columns.
struct DeviceMatrix {
  static constexpr int kMaxParts = 3;
  MatrixPart parts[kMaxParts];
  int n_parts = 0;
  int rows = 0;
  int cols = 0;

  bool dense() const { return n_parts == 1 && !parts[0].quantized; }
  bool any_quantized() const {
    for (int i = 0; i < n_parts; ++i)
      if (parts[i].quantized) return true;
    return false;
  }
};

struct DeviceLayer {
  const float* attn_norm = nullptr;  // [n_embd]
  DeviceMatrix wqkv;                 // [q_dim + 2 kv_dim][n_embd]
  const float* bqkv = nullptr;       // [q_dim + 2 kv_dim] or nullptr
  DeviceMatrix wo;                   // [n_embd][q_dim]
  const float* ffn_norm = nullptr;   // [n_embd]
  DeviceMatrix wgu;                  // [2 n_ff][n_embd]
  DeviceMatrix wdown;                // [n_embd][n_ff]
};

struct DeviceWeights {
  DType wtype = DType::bf16;          // dense matrices, and the activations
  DType embd_type = DType::bf16;      // the token embedding table, when dense
  DeviceMatrix tok_embd;              // [n_vocab][n_embd]
  const float* out_norm = nullptr;    // [n_embd]
  DeviceMatrix out_w;                 // [n_vocab][n_embd] (the embedding's when tied)
  std::vector<DeviceLayer> layers;
  uint64_t bytes = 0;                 // device bytes taken
  int quantized_parts = 0;            // matrices kept quantized
};

DType choose_weight_type(const Model& model);

// Uploads a model's weights; with keep_quantized, matrices of the five block
// types stay quantized. Checks free device memory first and fails with
// "cuda_out_of_memory" naming what is needed.
Status upload_weights(const Model& model, DType wtype, bool keep_quantized, DevicePool& pool, DeviceHealth& health,
                      cudaStream_t stream, DeviceWeights* out);

// Random weights generated on the device for a configuration (benchmarks of
// real shapes without a file): dense matrices uniform in +-1/sqrt(fan_in),
// norm weights near 1. Deterministic for a seed.
Status random_weights(const ModelConfig& cfg, DType wtype, uint64_t seed, DevicePool& pool, DeviceHealth& health,
                      cudaStream_t stream, DeviceWeights* out);

// Device bytes the dense weights of `cfg` take in `wtype` (for memory checks).
uint64_t weight_bytes_on_device(const ModelConfig& cfg, DType wtype, DType embd_type);

}  // namespace llmd::engine::cuda
