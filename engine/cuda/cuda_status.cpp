#include "engine/cuda/cuda_status.hpp"

#include <string>

#include "base/log.hpp"

namespace llmd::engine::cuda {

bool is_sticky_error(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorUnknown:
    case cudaErrorContextIsDestroyed:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemNotReady:
    case cudaErrorCudartUnloading:
      return true;
    default:
      return false;
  }
}

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_(unknown)";
  }
}

Status DeviceHealth::check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return ok_status();
  std::string msg = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) {
    (void)cudaGetLastError();
    return Error(errc::kNoGpu, "no GPU: " + msg);
  }
  if (is_sticky_error(e)) {
    mark_failed(msg);
    return Error(errc::kCudaFatal, "CUDA device failed: " + msg);
  }
  (void)cudaGetLastError();  // non-sticky: reset the per-thread error state
  if (e == cudaErrorMemoryAllocation) return Error(errc::kOutOfMemory, "out of device memory: " + msg);
  return Error(errc::kCuda, msg);
}

Status DeviceHealth::check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return ok_status();
  // A failed launch inside cuBLAS leaves the CUDA error behind: look for a
  // sticky one before reporting the cuBLAS status.
  cudaError_t e = cudaPeekAtLastError();
  if (is_sticky_error(e)) return check(e, what);
  std::string msg = std::string(what) + ": " + cublas_status_name(s);
  if (s == CUBLAS_STATUS_EXECUTION_FAILED) {
    // Execution failures usually mean the context is gone; confirm with a
    // cheap query that returns the sticky error if there is one.
    cudaError_t q = cudaStreamQuery(nullptr);
    if (is_sticky_error(q)) {
      mark_failed(msg + ", then " + cudaGetErrorName(q));
      return Error(errc::kCudaFatal, "CUDA device failed: " + msg);
    }
  }
  if (s == CUBLAS_STATUS_ALLOC_FAILED) return Error(errc::kOutOfMemory, "out of device memory: " + msg);
  return Error(errc::kCublas, msg);
}

std::string DeviceHealth::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

Error DeviceHealth::failed_error() const {
  return Error(errc::kCudaFatal, "CUDA device failed earlier: " + failure());
}

void DeviceHealth::mark_failed(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.empty()) failure_ = why;
  }
  if (!failed_.exchange(true, std::memory_order_acq_rel)) {
    llmd::log::errorf("cuda: device marked failed: %s", why.c_str());
  }
}

}  // namespace llmd::engine::cuda
