// Checking CUDA and cuBLASLt return codes. Every call goes through
// DeviceHealth::check, which turns a failure into an llmd::Error and, when the
// error is sticky (the context is corrupted: illegal address, launch failure,
// ...), marks the device failed for good: a backend whose health is failed
// refuses all further work, so the daemon can report it and restart.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <mutex>
#include <string>

#include "base/result.hpp"

namespace llmd::engine::cuda {

// Error codes.
namespace errc {
inline constexpr ErrorCode kNoGpu = ErrorCode::no_gpu;             // no usable device (or no driver)
inline constexpr ErrorCode kCuda = ErrorCode::cuda_error;          // a call failed; the device is still usable
inline constexpr ErrorCode kCudaFatal = ErrorCode::cuda_fatal;     // sticky error: the backend is failed
inline constexpr ErrorCode kOutOfMemory = ErrorCode::out_of_memory;
inline constexpr ErrorCode kCublas = ErrorCode::cublas_error;
inline constexpr ErrorCode kUnsupported = ErrorCode::cuda_unsupported;
// Codes of the Backend contract (engine/backend/backend.hpp).
inline constexpr ErrorCode kBadBatch = ErrorCode::forward_bad_batch;
inline constexpr ErrorCode kKvNotInitialized = ErrorCode::kv_not_initialized;
inline constexpr ErrorCode kKvBadShape = ErrorCode::kv_bad_shape;
inline constexpr ErrorCode kKvUnsupportedDtype = ErrorCode::kv_unsupported_dtype;
inline constexpr ErrorCode kKvBadBlock = ErrorCode::kv_bad_block;
}  // namespace errc

// True for errors after which the CUDA context can no longer be used.
bool is_sticky_error(cudaError_t e);

const char* cublas_status_name(cublasStatus_t s);

class DeviceHealth {
 public:
  // ok_status() for cudaSuccess; otherwise an Error naming `what` (and marks
  // the device failed when the error is sticky). Clears a non-sticky error
  // from the runtime's per-thread state so later calls are unaffected.
  Status check(cudaError_t e, const char* what);
  Status check(cublasStatus_t s, const char* what);

  bool healthy() const { return !failed_.load(std::memory_order_acquire); }
  // The first fatal error's description ("" while healthy).
  std::string failure() const;
  // An Error for callers that find the device already failed.
  Error failed_error() const;

  // Marks the device failed (used by tests and by callers that detect a fatal
  // condition themselves).
  void mark_failed(const std::string& why);

 private:
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  std::string failure_;
};

}  // namespace llmd::engine::cuda

// Returns from the enclosing function (whose result type is constructible from
// llmd::Error) when a CUDA/cuBLAS call fails (LLMD_TRY over DeviceHealth::check).
#define LLMD_CUDA_TRY(health, expr) LLMD_TRY((health).check((expr), #expr))
