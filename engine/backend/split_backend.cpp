#include "engine/backend/split_backend.hpp"

#include <utility>

namespace llmd::engine {

SplitBackend::SplitBackend(std::vector<SplitStage> stages, int32_t n_vocab)
    : stages_(std::move(stages)), n_vocab_(n_vocab) {}

std::string SplitBackend::name() const {
  std::string n;
  for (const SplitStage& s : stages_) {
    const LayerRange r = s.backend->layer_range();
    if (!n.empty()) n += "+";
    n += s.device + "[" + std::to_string(r.first) + "," + std::to_string(r.last) + ")";
  }
  return n;
}

Status SplitBackend::init_kv(const KvCacheShape& shape) {
  kv_ = KvCacheShape{};
  for (SplitStage& s : stages_) {
    if (Status st = s.backend->init_kv(shape); !st) return st.take_error().with_context(s.device + ": ");
  }
  kv_ = shape;
  return ok_status();
}

uint64_t SplitBackend::kv_block_bytes(const KvCacheShape& shape) const {
  uint64_t n = 0;
  for (const SplitStage& s : stages_) {
    const uint64_t b = s.backend->kv_block_bytes(shape);
    if (b == 0) return 0;  // a stage that cannot hold the shape: the split cannot either
    n += b;
  }
  return n;
}

Status SplitBackend::validate_batch(const ForwardBatch& batch) const {
  if (kv_.n_blocks <= 0) return Error(ErrorCode::kv_not_initialized, "init_kv() must be called before forward()");
  // The checks every backend makes (backend.hpp), so that a batch is refused
  // here even when a stage's own validate_batch is the accepting default.
  const int64_t bs = kv_.block_size;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const BatchSeq& s = batch.seqs[i];
    const std::string where = "sequence " + std::to_string(i) + " of the batch";
    if (s.tokens.empty()) return Error(ErrorCode::forward_bad_batch, where + " has no tokens");
    if (s.pos < 0) return Error(ErrorCode::forward_bad_batch, where + " has a negative position");
    const int64_t need = (int64_t{s.pos} + static_cast<int64_t>(s.tokens.size()) + bs - 1) / bs;
    if (static_cast<int64_t>(s.block_table.size()) < need)
      return Error(ErrorCode::forward_bad_batch, where + " needs " + std::to_string(need) +
                                                     " KV blocks, its table has " +
                                                     std::to_string(s.block_table.size()));
    for (int64_t b = 0; b < need; ++b) {
      const int32_t id = s.block_table[static_cast<size_t>(b)];
      if (id < 0 || id >= kv_.n_blocks)
        return Error(ErrorCode::forward_bad_batch, where + " refers to KV block " + std::to_string(id) +
                                                       " outside the pool of " + std::to_string(kv_.n_blocks));
    }
    for (int32_t t : s.tokens)
      if (t < 0 || t >= n_vocab_)
        return Error(ErrorCode::forward_bad_batch, where + " has token id " + std::to_string(t) +
                                                       " outside the vocabulary of " + std::to_string(n_vocab_));
  }
  // Limits particular to a stage (its longest context, ...).
  for (const SplitStage& s : stages_) {
    if (Status st = s.backend->validate_batch(batch); !st) return st.take_error().with_context(s.device + ": ");
  }
  return ok_status();
}

Status SplitBackend::forward(const ForwardBatch& batch, ForwardOutput* out) {
  if (!out) return Error(ErrorCode::forward_bad_batch, "no output given");
  LLMD_TRY(validate_batch(batch));
  const HiddenRows* in = nullptr;
  for (size_t i = 0; i < stages_.size(); ++i) {
    const bool last = i + 1 == stages_.size();
    HiddenRows* hidden = last ? nullptr : &hand_off_[i % 2];
    if (Status st = stages_[i].backend->forward_stage(batch, in, last ? out : nullptr, hidden); !st)
      return st.take_error().with_context(stages_[i].device + ": ");
    in = hidden;
  }
  return ok_status();
}

Status SplitBackend::copy_kv_block(int32_t src, int32_t dst) {
  if (kv_.n_blocks <= 0) return Error(ErrorCode::kv_not_initialized, "the KV-cache has not been initialized");
  // Checked here so that no stage copies when one would refuse.
  if (src < 0 || dst < 0 || src >= kv_.n_blocks || dst >= kv_.n_blocks)
    return Error(ErrorCode::kv_bad_block,
                 "KV block index out of range (pool has " + std::to_string(kv_.n_blocks) + ")");
  for (SplitStage& s : stages_) {
    if (Status st = s.backend->copy_kv_block(src, dst); !st) return st.take_error().with_context(s.device + ": ");
  }
  return ok_status();
}

bool SplitBackend::healthy() const {
  for (const SplitStage& s : stages_)
    if (!s.backend->healthy()) return false;
  return true;
}

uint64_t SplitBackend::memory_bytes() const {
  uint64_t n = 0;
  for (const SplitStage& s : stages_) n += s.backend->memory_bytes();
  for (const HiddenRows& h : hand_off_) n += h.data.capacity() * sizeof(float);
  return n;
}

std::vector<SplitStageInfo> SplitBackend::stages() const {
  std::vector<SplitStageInfo> v;
  for (const SplitStage& s : stages_) v.push_back({s.device, s.backend->layer_range(), s.backend->memory_bytes()});
  return v;
}

Result<std::unique_ptr<Backend>> make_split_backend(std::vector<SplitStage> stages, int32_t n_layer, int32_t n_vocab) {
  if (stages.empty()) return Error(ErrorCode::invalid_argument, "a split needs at least one stage");
  int32_t next = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    if (!stages[i].backend) return Error(ErrorCode::invalid_argument, "stage " + std::to_string(i) + " has no backend");
    LayerRange r = stages[i].backend->layer_range();
    if (r.n_layer == 0 && r.first == 0 && r.last == 0) r = {0, n_layer, n_layer};  // a whole-model backend
    const std::string what = "stage " + std::to_string(i) + " (" + stages[i].device + ", layers [" +
                             std::to_string(r.first) + ", " + std::to_string(r.last) + "))";
    if (r.n_layer != n_layer)
      return Error(ErrorCode::invalid_argument, what + " belongs to a model of " + std::to_string(r.n_layer) +
                                                    " layers, not " + std::to_string(n_layer));
    if (r.first != next)
      return Error(ErrorCode::invalid_argument, what + " should start at layer " + std::to_string(next));
    if (r.last <= r.first) return Error(ErrorCode::invalid_argument, what + " has no layer");
    next = r.last;
  }
  if (next != n_layer)
    return Error(ErrorCode::invalid_argument, "the stages end at layer " + std::to_string(next) + " of " +
                                                  std::to_string(n_layer));
  return std::unique_ptr<Backend>(std::make_unique<SplitBackend>(std::move(stages), n_vocab));
}

bool SplitBackend::samples_rows() const { return !stages_.empty() && stages_.back().backend->samples_rows(); }

}  // namespace llmd::engine
