#include "engine/tools/backend_select.hpp"

#include <cstdlib>

#include "engine/cpu/cpu_backend.hpp"
#if LLMD_HAVE_CUDA
#include "engine/cuda/cuda_backend.hpp"
#endif

namespace llmd::cli {

bool cuda_backend_built() {
#if LLMD_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

Result<std::unique_ptr<engine::Backend>> make_backend(const engine::Model& model, const BackendChoice& choice) {
  if (choice.name == "cpu") {
    engine::CpuBackendOptions o;
    o.threads = choice.threads;
    o.isa = choice.isa;
    return engine::make_cpu_backend(model, o);
  }
  if (choice.name == "cuda" || choice.name.rfind("cuda:", 0) == 0) {
    int device = 0;
    if (choice.name.size() > 5) {
      char* end = nullptr;
      const long v = std::strtol(choice.name.c_str() + 5, &end, 10);
      if (*end != '\0' || v < 0 || v > 255) return Error(ErrorCode::bad_backend, "bad CUDA device in '" + choice.name + "'");
      device = static_cast<int>(v);
    }
#if LLMD_HAVE_CUDA
    engine::cuda::CudaBackendOptions o;
    o.device = device;
    if (choice.max_batch_tokens > 0) o.max_batch_tokens = choice.max_batch_tokens;
    return engine::cuda::make_cuda_backend(model, o);
#else
    (void)device;
    return Error(ErrorCode::no_gpu, "no GPU: this build has no CUDA backend (configure with -DLLMD_CUDA=ON where nvcc is installed)");
#endif
  }
  return Error(ErrorCode::bad_backend, "unknown backend '" + choice.name + "' (cpu, cuda, cuda:N)");
}

}  // namespace llmd::cli
