// Choosing the compute backend by name for the engine tools (`--backend`):
// "cpu" (default) or "cuda" / "cuda:N". A build without the CUDA backend, or
// a machine without a GPU, gets an Error with code "no_gpu" and a message
// that says which.
#pragma once

#include <memory>
#include <string>

#include "engine/backend/backend.hpp"
#include "base/result.hpp"
#include "engine/model/model.hpp"

namespace llmd::cli {

struct BackendChoice {
  std::string name = "cpu";  // "cpu", "cuda", "cuda:N"
  int threads = 0;           // CPU threads (0 = all)
  std::string isa;           // CPU kernel variant ("" = best available)
  int max_batch_tokens = 0;  // CUDA: tokens per step (0 = default)
};

// True when this build contains the CUDA backend.
bool cuda_backend_built();

Result<std::unique_ptr<engine::Backend>> make_backend(const engine::Model& model, const BackendChoice& choice);

}  // namespace llmd::cli
