// The model's weights in device memory, in the layouts the CUDA forward pass
// reads. Matrices are converted on the device to one element type (f32 when
// every matrix is F32, f16 when every matrix is F16, bf16 otherwise: BF16 is
// kept, quantized types are dequantized) and stacked where one pass can cover
// them:
//   wqkv  [q_dim + 2*kv_dim][n_embd]   rows of attn_q | attn_k | attn_v
//   wgu   [2*n_ff][n_embd]             rows of ffn_gate | ffn_up
// Norms and biases are f32. The token embedding keeps F32/F16/BF16 as stored
// (quantized ones are dequantized to the matrix type); a tied output matrix
// shares it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/device_pool.hpp"
#include "engine/cuda/dtype.hpp"
#include "engine/model/model.hpp"

namespace llmd::engine::cuda {

struct DeviceLayer {
  const float* attn_norm = nullptr;  // [n_embd]
  const void* wqkv = nullptr;        // [q_dim + 2 kv_dim][n_embd]
  const float* bqkv = nullptr;       // [q_dim + 2 kv_dim] or nullptr
  const void* wo = nullptr;          // [n_embd][q_dim]
  const float* ffn_norm = nullptr;   // [n_embd]
  const void* wgu = nullptr;         // [2 n_ff][n_embd]
  const void* wdown = nullptr;       // [n_embd][n_ff]
};

struct DeviceWeights {
  DType wtype = DType::bf16;          // every matrix
  DType embd_type = DType::bf16;      // the token embedding table
  const void* tok_embd = nullptr;     // [n_vocab][n_embd]
  const float* out_norm = nullptr;    // [n_embd]
  const void* out_w = nullptr;        // [n_vocab][n_embd] of wtype
  std::vector<DeviceLayer> layers;
  uint64_t bytes = 0;                 // device bytes taken
};

DType choose_weight_type(const Model& model);

// Uploads a model's weights. Checks free device memory first and fails with
// "cuda_out_of_memory" naming what is needed.
Status upload_weights(const Model& model, DType wtype, DevicePool& pool, DeviceHealth& health, cudaStream_t stream,
                      DeviceWeights* out);

// Random weights generated on the device for a configuration (benchmarks of
// real shapes without a file): matrices uniform in +-1/sqrt(fan_in), norm
// weights near 1. Deterministic for a seed.
Status random_weights(const ModelConfig& cfg, DType wtype, uint64_t seed, DevicePool& pool, DeviceHealth& health,
                      cudaStream_t stream, DeviceWeights* out);

// Device bytes the weights of `cfg` take in `wtype` (for memory checks).
uint64_t weight_bytes_on_device(const ModelConfig& cfg, DType wtype, DType embd_type);

}  // namespace llmd::engine::cuda
