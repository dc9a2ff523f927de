// forward_and_sample: one entry point for a step and its token choices,
// whichever side (device or host) makes them.
#include "engine/backend/backend.hpp"

namespace llmd::engine {

Status forward_and_sample(Backend& backend, const ForwardBatch& batch, ForwardOutput* out) {
  LLMD_TRY(backend.forward(batch, out));
  if (batch.samples.empty()) {
    out->sampled.clear();
    return ok_status();
  }
  if (backend.samples_rows()) {
    if (out->sampled.size() != batch.samples.size())
      return Error(ErrorCode::engine_error, backend.name() + " returned " + std::to_string(out->sampled.size()) +
                                                " sampled tokens for " + std::to_string(batch.samples.size()));
    return ok_status();
  }
  out->sampled.clear();
  out->sampled.reserve(batch.samples.size());
  for (const RowSample& s : batch.samples) {
    if (s.row < 0 || s.row >= out->n_rows || !s.plan ||
        out->logits.size() < static_cast<size_t>(out->n_rows) * static_cast<size_t>(out->n_vocab))
      return Error(ErrorCode::engine_error, "a sample names logits row " + std::to_string(s.row) + " of " +
                                                std::to_string(out->n_rows));
    out->sampled.push_back(choose_token(out->row(s.row), *s.plan));
  }
  return ok_status();
}

}  // namespace llmd::engine
