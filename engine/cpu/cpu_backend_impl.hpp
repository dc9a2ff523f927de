// The CPU backend's class (internal to engine/cpu; use make_cpu_backend).
#pragma once

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/kernels.hpp"
#include "engine/cpu/kv_cache.hpp"
#include "engine/cpu/packed_matrix.hpp"
#include "engine/cpu/thread_pool.hpp"

namespace llmd::engine::cpu {

// Largest number of tokens one internal step processes; bigger batches are
// cut into several steps (a long prefill chunk continues over its own KV).
constexpr int64_t kMaxStepTokens = 512;

class CpuBackend final : public Backend {
 public:
  // Runs layers [first, last) of `model`; the caller checked the range.
  CpuBackend(const Model& model, const KernelTable& kernels, int threads, int32_t first, int32_t last);

  Status load_weights(const std::function<void(uint64_t, uint64_t)>& progress);
  uint64_t memory_bytes() const override;

  std::string name() const override { return "cpu"; }
  Status init_kv(const KvCacheShape& shape) override;
  uint64_t kv_block_bytes(const KvCacheShape& shape) const override;
  Status forward(const ForwardBatch& batch, ForwardOutput* out) override;
  Status copy_kv_block(int32_t src, int32_t dst) override;
  LayerRange layer_range() const override { return {first_, last_, cfg_.n_layer}; }
  Status forward_stage(const ForwardBatch& batch, const HiddenRows* in, ForwardOutput* logits,
                       HiddenRows* hidden) override;
  Status validate_batch(const ForwardBatch& batch) const override;

 private:
  // A linear layer: one stacked matrix, or parts computed into column ranges.
  struct Linear {
    std::vector<PackedMatrix> parts;  // outputs concatenated in order
    int64_t rows = 0;
  };
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv, q_norm, k_norm;
    Linear qkv, wo, gate_up, down;
  };
  // A piece of one sequence processed in a step.
  struct Piece {
    const BatchSeq* seq = nullptr;
    int32_t offset = 0;  // first token of the sequence's chunk in this piece
    int32_t n = 0;
    int32_t pos = 0;
    bool logits_all = false;
    bool logits_last = false;  // this piece ends the sequence's chunk and wants its last row
    bool embed_all = false;    // the same two for the final hidden state (embeddings)
    bool embed_last = false;
    int32_t n_logits() const { return logits_all ? n : logits_last ? 1 : 0; }
    int32_t n_embed() const { return embed_all ? n : embed_last ? 1 : 0; }
  };
  // Activations that feed linear layers: f32 rows, quantized on first use by int formats.
  struct ActInput {
    const float* x = nullptr;
    int64_t rows = 0;
    int64_t stride = 0;
    bool quantized = false;
    ActQ8 q;
  };

  Status pack_linear(std::span<const WeightView* const> parts, Linear* out);
  void linear(const Linear& l, ActInput& in, float* y, int64_t y_stride, bool accumulate);
  void quantize(ActInput& in);
  void rms_norm(const float* x, const std::vector<float>& w, float* y, int64_t rows);
  // One step over `pieces`: the input rows come from the token embeddings
  // (first stage) or from `in_rows`; the result goes to `logits` and
  // `embeddings` (last stage: the requested rows) or to `out_rows` (every row).
  Status run_step(std::span<const Piece> pieces, const float* in_rows, float* logits, float* embeddings,
                  float* out_rows);
  // The tile tables attention() reads, once per step.
  void prepare_attention(std::span<const Piece> pieces);
  void attention(int layer, std::span<const Piece> pieces);
  Status ensure_scratch(int64_t tokens, int64_t max_keys);
  // Longest sequence accepted: 4x the training context (at least 32768).
  int64_t max_positions() const { return int64_t{4} * std::max<int64_t>(cfg_.n_ctx_train, 32768); }

  const Model& model_;
  const ModelConfig& cfg_;
  const KernelTable& k_;
  const int32_t first_, last_;  // the layers this backend runs
  ThreadPool pool_;
  CpuKvCache kv_;

  std::vector<Layer> layers_;  // layers_[i] is the model's layer first_ + i
  std::vector<float> output_norm_;  // last stage only
  Linear output_;                   // last stage only

  // Scratch, sized for the largest step so far.
  int64_t cap_tokens_ = 0;
  std::vector<float> x_, xn_, qkv_, att_, gu_, h_, cos_, sin_;
  int64_t rope_rows_ = 0;  // positions cos_ and sin_ hold
  std::vector<int8_t> aq_, ar_;
  std::vector<float> ad_, aqsum_;
  std::vector<int32_t> acorr16_, acorr32_;
  std::vector<int32_t> row_pos_;
  std::vector<int32_t> row_piece_;
  std::vector<std::vector<float>> attn_scratch_;  // per thread
  std::vector<const void*> tiles_;                // per (piece, kv head): K tiles then V tiles
  std::vector<size_t> tiles_offset_;
};

}  // namespace llmd::engine::cpu
