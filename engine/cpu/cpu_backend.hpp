// The CPU implementation of Backend (engine/backend/backend.hpp).
//
// At creation the model's weights are converted into the kernels' packed
// layout (packed_matrix.hpp); Q, K, V and gate, up are stacked when their
// types allow, so a step makes one pass over each. Activations are f32; for
// quantized weights they are quantized to int8 per 32 values for the integer
// dot products. Every weight pass covers all tokens of the batch (GEMM over
// the batch rows), and each output is computed by the same operations whatever
// the batch, so a sequence's results equal running it alone, bit for bit.
//
// A backend may run a range of the model's layers (one stage of a split,
// engine/backend/backend.hpp "Layer ranges"): it converts only those layers'
// weights, keeps K/V only for them, reads token embeddings only as the first
// stage and holds the final norm and output head only as the last. Each
// layer runs the same operations as in a whole-model backend and hidden rows
// pass between stages unrounded, so a model split into CPU stages gives the
// same logits, bit for bit, as one CPU backend.
//
// The Model must outlive the backend (token embeddings are read from its file
// mapping). forward() is not reentrant; one engine loop drives a backend.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/backend/backend.hpp"
#include "base/result.hpp"
#include "engine/model/model.hpp"

namespace llmd::engine {

struct CpuBackendOptions {
  int threads = 0;  // 0 = all cores this process may use
  // Kernel variant: "" = the best this CPU supports (the LLMD_CPU_ISA
  // environment variable may name a lower one), or "scalar", "avx2", "avx512".
  std::string isa;
  // Called on the creating thread as the weights are converted: bytes of the
  // file's weight tensors done so far, and their total.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // The layers to run, [first_layer, last_layer); last_layer -1 = through the
  // model's last layer. A range outside the model or without a layer is
  // invalid_argument.
  int32_t first_layer = 0;
  int32_t last_layer = -1;
};

// Bytes the CPU backend's converted weights take for `model` (what
// memory_bytes() reports for them after creation, before any KV or scratch),
// for the layers [first_layer, last_layer) (-1: through the last) with the
// output head when the range ends with the model's last layer.
Result<uint64_t> cpu_weight_bytes(const Model& model, int32_t first_layer = 0, int32_t last_layer = -1);

Result<std::unique_ptr<Backend>> make_cpu_backend(const Model& model, const CpuBackendOptions& opts);

}  // namespace llmd::engine
