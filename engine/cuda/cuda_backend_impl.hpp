// Internals of CudaBackend (cuda_backend.hpp): device state and the forward
// pass. Construction and the KV pool live in cuda_backend.cpp, the step
// machinery in cuda_forward.cpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <tuple>
#include <vector>

#include "engine/cuda/cuda_backend.hpp"
#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/cuda_weights.hpp"
#include "engine/cuda/device_pool.hpp"
#include "engine/cuda/device_sampler.hpp"
#include "engine/cuda/gemm_lt.hpp"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/step_plan.hpp"

namespace llmd::engine::cuda {

// Most (token, split) partial results of split attention per step.
constexpr int kMaxAttnPartials = 2048;
// Graphs of steps that are not pure decode kept at most (graph_mixed_steps):
// their shapes vary more than decode steps', and each graph holds memory.
constexpr int kMaxMixedGraphs = 64;
constexpr size_t kMaxSeenShapes = 4096;

class CudaBackendImpl {
 public:
  CudaBackendImpl(const ModelConfig& cfg, const CudaBackendOptions& opts) : cfg_(cfg), opts_(opts) {}
  ~CudaBackendImpl();

  // Device, stream, cuBLASLt; then weights (from a model or random).
  Status open_device();
  Status load(const Model& model);
  Status load_random(DType wtype, uint64_t seed);
  // RoPE table and activation buffers (after the weights).
  Status prepare(const std::vector<double>& inv_freq);

  Status init_kv(const KvCacheShape& shape);
  uint64_t kv_block_bytes(const KvCacheShape& shape) const;
  Status copy_kv_block(int32_t src, int32_t dst);
  // out and/or ids (one of them) receive the rows. With batch.samples and
  // `out`, the tokens are chosen on the device into out->sampled and no
  // logits are copied to the host.
  Status forward(const ForwardBatch& batch, ForwardOutput* out, const DeviceSampling* sampling,
                 std::vector<int32_t>* ids);

  const ModelConfig& config() const { return cfg_; }
  const CudaBackendOptions& options() const { return opts_; }
  // Whether kernels are launched programmatically (asked for, and sm_90+).
  bool programmatic() const { return opts_.programmatic_launch && dev_.cc_major >= 9; }
  DeviceHealth& health() { return health_; }
  const DeviceHealth& health() const { return health_; }
  const DeviceInfo& device() const { return dev_; }
  const DeviceWeights& weights() const { return w_; }
  CudaBackendStats stats() const { return stats_; }

 private:
  // Device pointers into the uploaded step inputs.
  struct StepPtrs {
    const int32_t* split_len;
    const int32_t* tokens;
    const int32_t* pos;
    const int32_t* seq;
    const int32_t* rows;
    const int32_t* dlist;
    const AttnTile* tiles;
    const int32_t* block_tables;
    const uint64_t* seeds;
  };
  // Everything the launches of a step depend on besides the device inputs.
  struct GraphKey {
    int n_tokens, n_rows, bt_stride, sample_mode, top_k;
    float temperature;
    int n_dlist, n_tiles, n_splits;
    bool all_decode;
    bool operator<(const GraphKey& o) const {
      return std::tie(n_tokens, n_rows, bt_stride, sample_mode, top_k, temperature, n_dlist, n_tiles, n_splits,
                      all_decode) < std::tie(o.n_tokens, o.n_rows, o.bt_stride, o.sample_mode, o.top_k,
                                             o.temperature, o.n_dlist, o.n_tiles, o.n_splits, o.all_decode);
    }
  };

  PlanLimits limits() const;
  // `stable`: the batch is this single step and either every sequence brings
  // one token or graph_mixed_steps is on: the step's shapes (attention split,
  // block-table width) depend only on what the graph key holds, and it may
  // be captured and replayed.
  // `plans`: the batch's samples (rows numbered from the batch's first
  // row; this step's first row is row_base), chosen into *sampled.
  struct StepSamples {
    std::span<const RowSample> plans;
    int row_base = 0;
    std::vector<SampledToken>* sampled = nullptr;
  };
  Status run_step(const StepPlan& p, const DeviceSampling* sampling, float* logits_out, int32_t* ids_out,
                  bool stable, const StepSamples* samples);
  // Launches the layers (and, with head_rows >= 0, the output head for rows
  // [0, head_rows) plus sampling) on the stream.
  Status enqueue_layers(const StepPlan& p, const StepPtrs& d, int n_splits);
  Status enqueue_head(const StepPtrs& d, int row0, int n_rows, const DeviceSampling* sampling);
  // y = x W^T (or +=) for n tokens x [n][w.cols] of act_, y [n][w.rows]:
  // by GEMV for few tokens else cuBLASLt.
  Status project(const DeviceMatrix& w, const void* x, int n, void* y, DType y_type, bool accumulate);
  // cuBLASLt over a dense [m][k] matrix of act_.
  Status gemm(const void* w, int m, int k, const void* x, int n, void* y, DType y_type, bool accumulate);
  // The projection of a matrix with quantized parts (cuda_project_quant.cpp):
  // the quantized GEMVs when quant_gemv(w, n), the tensor-core kernel when
  // quant_gemm(w, n), else the matrix dequantized into the scratch buffer
  // (in chunks of rows when it is larger) and gemm().
  Status project_quantized(const DeviceMatrix& w, const void* x, int n, void* y, DType y_type, bool accumulate);
  // Whether project() on w with n tokens runs the quantized GEMVs (y f32).
  bool quant_gemv(const DeviceMatrix& w, int n) const;
  // Whether it runs the quantized tensor-core kernel (y f32).
  bool quant_gemm(const DeviceMatrix& w, int n) const;
  // Either: project() then writes f32 only.
  bool quant_direct(const DeviceMatrix& w, int n) const { return quant_gemv(w, n) || quant_gemm(w, n); }
  // Whether project_quantized_normed() runs on w with n tokens: quantized
  // GEMVs, fuse_norm_gemv, and for swiglu one part holding gate and up.
  bool quant_norm_gemv(const DeviceMatrix& w, int n, bool swiglu) const;
  // The quantized GEMVs with the RMSNorm of the residual x_ (norm_w) folded
  // in: out = W norm(x) (f32, [n][w.rows]), or with swiglu, out = silu(gate)
  // * up ([n][w.rows / 2] of act_).
  Status project_quantized_normed(const DeviceMatrix& w, const float* norm_w, int n, void* out, bool swiglu);
  // Rows [row0, row0 + n_rows) of w as a dense matrix of act_ at dst.
  Status dense_rows(const DeviceMatrix& w, int row0, int n_rows, void* dst);
  // The token embedding's rows of d.tokens into x_ (f32).
  Status embed(const int32_t* tokens, int n_tokens);
  // The scratch buffers of project_quantized, sized for the weights.
  Status prepare_dequant_scratch();
  // CudaBackendOptions::tune_gemms, run once the weights and activation
  // buffers exist.
  Status tune_gemms();
  // Whether a step of n_tokens takes the GEMV kernels for inner dimension k.
  bool uses_gemv(int n_tokens, int k) const;
  Status run_gemv(const GemvArgs& g);  // launch_gemv, counted in the stats
  void clear_graphs();

  ModelConfig cfg_;
  CudaBackendOptions opts_;
  DeviceInfo dev_;
  DeviceHealth health_;
  cudaStream_t stream_ = nullptr;
  DevicePool pool_{&health_};
  LtGemm gemm_{&health_};
  DeviceWeights w_;
  DType act_ = DType::bf16;  // element type of GEMM inputs (== w_.wtype)

  // RoPE table [max_pos][n_rot/2][2].
  float* rope_cs_ = nullptr;
  int max_pos_ = 0;

  // Activations for up to max_tokens tokens (buffer shapes in comments).
  int max_tokens_ = 0;
  int head_rows_ = 0;             // logits rows per head pass
  float* x_ = nullptr;            // [T][n_embd] residual stream
  void* xn_ = nullptr;            // [T][n_embd] normalized (act)
  float* qkv_ = nullptr;          // [T][q_dim + 2 kv_dim]
  float* q_ = nullptr;            // [T][q_dim] rotated queries
  void* attn_ = nullptr;          // [T][q_dim] attention output (act)
  float* gu_ = nullptr;           // [T][2 n_ff] gate|up
  void* h_ = nullptr;             // [T][n_ff] SwiGLU output (act)
  float* logits_ = nullptr;       // [head_rows][n_vocab]
  int32_t* ids_ = nullptr;        // [head_rows] sampled ids
  float* part_o_ = nullptr;       // [kMaxAttnPartials][n_head][head_dim]
  float* part_ml_ = nullptr;      // [kMaxAttnPartials][n_head][2]
  void* gemm_ws_ = nullptr;
  // A quantized matrix dequantized for a GEMM: [dq_rows_cap_ * cols] of act_,
  // enough for every layer matrix at once; larger ones (the output head) go in
  // chunks of rows, each GEMM's output staged in head_chunk_ [head_rows][chunk].
  void* dq_scratch_ = nullptr;
  size_t dq_scratch_elems_ = 0;
  float* head_chunk_ = nullptr;
  size_t head_chunk_elems_ = 0;
  // The quantized tensor-core kernel's split partials
  // (gemm_quant_partial_floats for this device).
  float* qmm_partial_ = nullptr;
  size_t qmm_partial_floats_ = 0;
  PinnedBuffer ids_host_;         // [head_rows] int32
  DeviceSampler sampler_{health_};  // ForwardBatch::samples

  // KV pool: [n_layer][K|V][n_blocks][n_head_kv][block_size][head_dim].
  KvCacheShape kv_shape_;
  DeviceBuffer kv_;
  DeviceBuffer kv_rows_;  // q8_0 caches: a step's rotated K and V rows in f32 (RopeKvArgs::kv_rows)
  size_t kv_rows_bytes() const {
    return static_cast<size_t>(max_tokens_) * 2 * static_cast<size_t>(cfg_.kv_dim()) * sizeof(float);
  }
  size_t kv_half_bytes_ = 0;      // one layer's K (or V) for all blocks
  bool kv_ready_ = false;

  // Step inputs: pinned host staging and device copy (int32 words).
  PinnedBuffer in_host_;
  DeviceBuffer in_dev_;
  size_t in_cap_words_ = 0;

  // Decode graphs.
  std::map<GraphKey, cudaGraphExec_t> graphs_;
  int mixed_graphs_ = 0;  // of graphs_, those of steps that are not pure decode
  std::set<GraphKey> seen_;
  bool graphs_ok_ = true;

  CudaBackendStats stats_;
  uint64_t sample_step_ = 0;
};

}  // namespace llmd::engine::cuda
