// The CUDA implementation of Backend (engine/backend/backend.hpp).
//
// Weights are converted once into device memory (cuda_weights.hpp), block-
// quantized ones kept quantized unless the options say otherwise. A forward
// step runs: embedding gather -> per layer [RMSNorm -> QKV projection -> RoPE
// and K/V store into the paged cache -> paged attention -> output projection
// added to the residual -> RMSNorm -> gate/up projection -> SwiGLU -> down
// projection added to the residual] -> final RMSNorm of the rows whose logits
// are wanted -> output projection. Projections use cuBLASLt (f32
// accumulation); decode steps with few tokens use our weight-streaming GEMV
// kernels instead, with the RMSNorm before QKV and gate/up folded into them
// (16-bit weights; quantized ones take the norm and SwiGLU as separate
// kernels). Decode steps (one token per sequence) are captured as CUDA
// graphs per (batch size, logits rows, block-table width) and replayed.
//
// Every CUDA call is checked; a sticky device error (illegal address, ...)
// marks the backend failed: healthy() turns false and every later call
// returns an error with code "cuda_fatal".
//
// A sequence's logits do not depend on the rest of the batch beyond
// floating-point rounding (steps of few tokens use the GEMV kernels, larger
// ones cuBLASLt, so bits may differ); a decode step replayed from a graph
// computes exactly what the same step computes without one.
//
// KV block layout (f16 or f32): the pool is [n_layer][K|V][n_blocks] of
// [n_head_kv][block_size][head_dim], so one block of one layer's K (or V) is
// contiguous and copy_kv_block copies 2 * n_layer pieces.
//
// forward() is not reentrant: one engine loop drives a backend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"
#include "base/result.hpp"
#include "engine/cuda/device_info.hpp"
#include "engine/cuda/dtype.hpp"
#include "engine/model/model.hpp"

namespace llmd::engine::cuda {

struct CudaBackendOptions {
  int device = 0;
  int max_batch_tokens = 2048;  // tokens per internal step; larger batches are split
  int max_seqs = 256;           // sequences per internal step
  int max_context = 0;          // highest position + 1; 0 = the model's context length
  bool cuda_graphs = true;      // replay decode steps as CUDA graphs
  // Batches that run as one step but are not pure decode (a prefill chunk
  // beside decode tokens) get the stable shapes of decode steps (block-table
  // width rounded to a power of two, attention split from the batch and that
  // width) and, with cuda_graphs, are captured and replayed when their shape
  // (tokens, decode tokens, prefill tiles, logits rows, width) comes again: a
  // server in steady state repeats one chunk size beside the same decodes.
  // At most kMaxMixedGraphs such graphs are kept.
  bool graph_mixed_steps = true;
  int gemv_max_tokens = 4;      // steps with at most this many tokens use the GEMV kernels
  // Launch each kernel so that it may start while the previous one finishes
  // (programmatic dependent launch, sm_90+; ignored on older devices). The
  // results are bit-for-bit the same either way.
  bool programmatic_launch = true;
  // Steps that take the GEMM path write the FFN's gate and up projections in
  // the activation type (bf16/f16) instead of f32: half the bytes between the
  // GEMM and SwiGLU, one more 16-bit rounding of each before SwiGLU.
  bool gate_up_16bit = true;
  // Steps that use the GEMV kernels (16-bit or quantized) fold the RMSNorm
  // before the QKV and gate/up projections into those kernels (two fewer
  // launches per layer; the normalised activations stay in f32 instead of
  // being rounded to 16 bits). The 16-bit gate/up GEMV applies SwiGLU
  // either way; the quantized one only with this (one launch fewer again).
  bool fuse_norm_gemv = true;
  // Decode steps (one token per sequence) leave RoPE and the K/V store to the
  // attention kernel (one launch fewer per layer; the same bits). Off: fused
  // is no faster at batch 1 and slower at batch 64 on an H100
  // (docs/engine-cuda-backend.md has the figures).
  bool fuse_rope_decode = false;
  // The tiled prefill attention copies the next K/V tile during the whole of
  // the current one (two buffers) and starts the heaviest tiles of every
  // head first; off, the single-buffered, head-by-head kernel (kept to
  // compare against).
  // Same arithmetic either way, so the same bits.
  bool prefill_pipelined = true;
  // At creation, time cuBLASLt's candidate algorithms for the four layer
  // projections at max_batch_tokens tokens (and a half and a quarter of it)
  // and keep the fastest for those shapes; other token counts use the
  // heuristic's first choice. A tuned choice depends on timings, so two
  // backends may sum those GEMMs in different orders.
  bool tune_gemms = false;
  // Matrices of q8_0, q4_0, q4_K, q5_K and q6_K stay quantized in device
  // memory, in the layout of engine/quant/device_layout.hpp (the file's bytes
  // plus alignment). Steps of up to kGemvMaxTokens tokens read them with the
  // quantized GEMVs, steps of up to quant_gemm_max_tokens with the
  // tensor-core kernel that decodes tiles into shared memory
  // (kernels/gemm_quant.hpp); larger steps dequantize one matrix at a time
  // into a scratch buffer of the activation type and run cuBLASLt. Off: they
  // are dequantized to f16 at load, like a 16-bit file's (more memory, and
  // decode reads 2 bytes per weight).
  bool quantized_weights = true;
  // The per-token attention cuts contexts longer than this many keys into
  // pieces of about this size, one block each, even when the batch alone
  // fills the device (0: only to fill it): a batch mixing short and long
  // contexts keeps every multiprocessor busy to the end of the step.
  int attn_split_keys = 512;
  // The largest step (in tokens) that multiplies quantized matrices with the
  // tensor-core kernel: it reads a weight once per 64 tokens, the scratch
  // path reads the quantized bytes and writes and reads 16 bits per weight
  // per step but then runs cuBLASLt's faster matrix products. 0: never.
  int quant_gemm_max_tokens = 256;
};

// Token choice on the device (bench and greedy serving): temperature 0 is
// greedy; otherwise softmax(logits / temperature) over the top_k largest
// (top_k 0 = all). Each row's draw is seeded from `seed` and a step counter.
struct DeviceSampling {
  float temperature = 0.0f;
  int top_k = 0;
  uint64_t seed = 0;
};

struct CudaBackendStats {
  uint64_t steps = 0;           // internal steps run
  uint64_t graph_replays = 0;   // of those, replayed from a captured graph
  uint64_t graph_captures = 0;  // graphs captured
  uint64_t mixed_graph_replays = 0;  // replays of steps that were not pure decode
  uint64_t tokens = 0;          // tokens processed
  // Kernel launches enqueued (eagerly or into a captured graph) on the paths
  // the options choose, so a test can tell that an option took effect:
  uint64_t attn_fused_rope = 0;      // per-token attention doing RoPE/KV itself
  uint64_t prefill_pipelined = 0;    // double-buffered tiled prefill attention
  uint64_t quant_gemvs = 0;          // GEMVs straight from quantized weights
  uint64_t quant_norm_folded = 0;    // of those, with the RMSNorm (and for gate/up SwiGLU) folded in
  uint64_t quant_gemms = 0;          // tensor-core products straight from quantized weights
  uint64_t dequantized_gemms = 0;    // GEMMs over a quantized matrix's scratch copy (one per chunk)
};

class CudaBackendImpl;

class CudaBackend final : public Backend {
 public:
  // Uploads `model` to the device (the Model may be released afterwards).
  // Error "no_gpu" when no device is usable.
  static Result<std::unique_ptr<CudaBackend>> create(const Model& model, const CudaBackendOptions& opts);
  // A model of configuration `cfg` with random weights of `weight_type`
  // generated on the device (benchmarks of real shapes without a file).
  static Result<std::unique_ptr<CudaBackend>> create_random(const ModelConfig& cfg, DType weight_type, uint64_t seed,
                                                            const CudaBackendOptions& opts);
  ~CudaBackend() override;

  std::string name() const override;
  Status init_kv(const KvCacheShape& shape) override;
  uint64_t kv_block_bytes(const KvCacheShape& shape) const override;
  Status forward(const ForwardBatch& batch, ForwardOutput* out) override;
  Status copy_kv_block(int32_t src, int32_t dst) override;
  bool healthy() const override;
  // Chooses ForwardBatch::samples on the device (device_sampler.hpp).
  bool samples_rows() const override { return true; }

  // Like forward(), but picks one token per logits row on the device and
  // returns only the ids (rows in the same order as forward's logits).
  Status forward_sample(const ForwardBatch& batch, const DeviceSampling& sampling, std::vector<int32_t>* ids);

  const DeviceInfo& device() const;
  DType weight_type() const;
  uint64_t weight_bytes() const;
  CudaBackendStats stats() const;
  // One line: device, weight type and size, options in effect.
  std::string describe() const;

 private:
  explicit CudaBackend(std::unique_ptr<CudaBackendImpl> impl);
  std::unique_ptr<CudaBackendImpl> impl_;
};

// The factory the engine tools call (mirrors make_cpu_backend).
Result<std::unique_ptr<Backend>> make_cuda_backend(const Model& model, const CudaBackendOptions& opts);

}  // namespace llmd::engine::cuda
