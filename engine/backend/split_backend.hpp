// A model split across devices: a Backend made of stages, each a backend that
// runs a contiguous range of the model's layers (backend.hpp "Layer ranges").
// The scheduler, the paged-KV bookkeeping and the prefix cache above it see
// one model with one pool of KV blocks.
//
// Contract:
//  - The stages' ranges are contiguous and cover the model in order: the
//    first starts at layer 0, each starts where the one before ends, the last
//    ends at n_layer. make_split_backend checks this.
//  - init_kv gives every stage the same shape, so block id b names the same
//    positions in every stage's pool; a block's K/V is the union of its
//    stages' parts. kv_block_bytes and memory_bytes are the stages' sums;
//    copy_kv_block copies the block in every stage.
//  - forward() validates the batch against every stage before it runs any
//    (so a refused batch leaves every pool unchanged), then runs the stages in
//    order: the first embeds the tokens, each hands the hidden rows of every
//    token of the batch to the next (one f32 row of n_embd per token, a host
//    copy between the stages' memories), the last returns the logits.
//  - The split itself is a whole model: layer_range() is the default, and
//    forward_stage() takes no hidden rows.
//  - Results are those of the stages: CPU stages give the logits of one CPU
//    backend bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/backend/backend.hpp"

namespace llmd::engine {

// One stage: the device it runs on (for names and reports) and its backend.
struct SplitStage {
  std::string device;
  std::unique_ptr<Backend> backend;
};

// What a split reports about each stage.
struct SplitStageInfo {
  std::string device;
  LayerRange layers;
  uint64_t memory_bytes = 0;
};

class SplitBackend final : public Backend {
 public:
  // Use make_split_backend, which checks the stages.
  SplitBackend(std::vector<SplitStage> stages, int32_t n_vocab);

  // "cpu:0[0,3)+cpu:1[3,5)": each stage's device and layers.
  std::string name() const override;
  Status init_kv(const KvCacheShape& shape) override;
  uint64_t kv_block_bytes(const KvCacheShape& shape) const override;
  Status forward(const ForwardBatch& batch, ForwardOutput* out) override;
  Status copy_kv_block(int32_t src, int32_t dst) override;
  Status validate_batch(const ForwardBatch& batch) const override;
  bool healthy() const override;
  uint64_t memory_bytes() const override;
  // The last stage's: it computes the logits, so it chooses the tokens when
  // it can (the batch reaches it with its samples).
  bool samples_rows() const override;

  std::vector<SplitStageInfo> stages() const;
  Backend& stage(size_t i) { return *stages_[i].backend; }

 private:
  std::vector<SplitStage> stages_;
  int32_t n_vocab_ = 0;
  KvCacheShape kv_;  // n_blocks 0 until init_kv succeeds
  HiddenRows hand_off_[2];  // the rows between stages, alternately; kept to reuse their memory
};

// Checks that the stages cover a model of n_layer layers in order (see the
// contract above) and composes them. Errors: invalid_argument naming the gap,
// overlap or missing end.
Result<std::unique_ptr<Backend>> make_split_backend(std::vector<SplitStage> stages, int32_t n_layer, int32_t n_vocab);

}  // namespace llmd::engine
