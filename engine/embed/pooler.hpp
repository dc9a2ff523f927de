// Pools the final hidden states of one text into its embedding, chunk by
// chunk as the scheduler computes the text (a long text arrives over several
// steps, and a preempted one is computed again from a prefix).
//
// The backend hands over hidden states after the model's output norm
// (LogitsMode::embed_*); the pooler keeps what its PoolingType needs:
//   mean  the average over every position (summed in double, in position order)
//   cls   position 0
//   last  the last position (Qwen3-Embedding)
// and finish() returns the pooled vector L2-normalised. Each position counts
// once, in order, however the text was cut into chunks or recomputed, so the
// result depends only on the rows the backend computed for it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/model/model_config.hpp"

namespace llmd::engine {

class Pooler {
 public:
  // `type` must not be PoolingType::none.
  Pooler(PoolingType type, int32_t n_embd, int32_t text_len);

  // The mode to run the chunk [pos, pos + n) of the text with: the rows this
  // pooler still needs of it, or LogitsMode::none.
  LogitsMode mode_for_chunk(int32_t pos, int32_t n) const;

  // Takes the chunk's rows as mode_for_chunk() asked for them: n rows
  // (embed_all) or the chunk's last row (embed_last), n_embd floats each.
  // Rows of positions already pooled are skipped.
  void add(int32_t pos, int32_t n, LogitsMode mode, std::span<const float> rows);

  // Every position the pooling needs has been added.
  bool complete() const;

  // The embedding: pooled and L2-normalised (left as is when its norm is 0).
  std::vector<float> finish() const;

 private:
  PoolingType type_;
  int32_t n_embd_;
  int32_t len_;
  int32_t pooled_ = 0;       // positions [0, pooled_) are in acc_ (mean) or done with
  bool have_row_ = false;    // cls / last: the row is in acc_
  std::vector<double> acc_;  // n_embd
};

// The first `dims` values of an embedding, L2-normalised again (Matryoshka
// truncation). dims must be in 1 .. embedding.size().
std::vector<float> truncate_embedding(std::span<const float> embedding, int32_t dims);

}  // namespace llmd::engine
