// The pinned host-to-device copy rate of a GPU, measured: the floor that
// restoring a parked model's weights is compared with.
#pragma once

#include <cstddef>

#include "base/result.hpp"

namespace llmd::engine::cuda {

// Bytes per second of cudaMemcpyAsync from pinned host memory to `device`,
// the best of a few copies of `bytes`. Errors: no_gpu, cuda_error.
Result<double> measure_pinned_copy_rate(int device, size_t bytes = size_t{256} << 20);

}  // namespace llmd::engine::cuda
