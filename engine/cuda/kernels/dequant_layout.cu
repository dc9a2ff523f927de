#include "engine/cuda/kernels/common.cuh"
#include "engine/cuda/kernels/dequant_layout.hpp"
#include "engine/cuda/kernels/launch.cuh"

namespace llmd::engine::cuda {
namespace {

using namespace dev;

constexpr int kThreads = 256;

// Plain loads: the scratch copy is written once per GEMM and nothing here is
// streamed more than once.
struct PlainLoad {
  __device__ static void load16(const uint8_t* p, uint32_t out[4]) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  }
  __device__ static void load8(const uint8_t* p, uint32_t out[2]) {
    const uint2 v = *reinterpret_cast<const uint2*>(p);
    out[0] = v.x;
    out[1] = v.y;
  }
  __device__ static uint32_t load2(const uint8_t* p) { return *reinterpret_cast<const unsigned short*>(p); }
};

// One thread per unit of a row (32 or 64 weights), grid-stride over every
// (row, unit) of the output.
template <class U, typename TO>
__global__ void __launch_bounds__(kThreads) dequant_rows_kernel(DequantRowsArgs a) {
  // The rows may come from the step's inputs and the output may still be
  // read by the previous kernel: wait for it before either.
  pdl_wait();
  pdl_launch_dependents();
  const int64_t units = U::units_per_row(a.k);
  const int64_t total = a.n_rows * units;
  const auto* w = static_cast<const uint8_t*>(a.w);
  TO* y = static_cast<TO*>(a.y);
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / units, u = idx - r * units;
    const int64_t src = a.row_ids ? static_cast<int64_t>(a.row_ids[r]) : a.row0 + r;
    TO* out = y + r * a.k;
    quant::dequantize_unit<U, PlainLoad>(w, a.planes, src, a.k, u,
                                         [out](int64_t i, float v) { out[i] = from_float<TO>(v); });
  }
}

template <class U, typename TO>
cudaError_t launch_typed(const DequantRowsArgs& a, cudaStream_t stream) {
  const int64_t total = a.n_rows * U::units_per_row(a.k);
  const int64_t want = (total + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(want < 65535 ? want : 65535);
  return launch_kernel(dequant_rows_kernel<U, TO>, dim3(blocks), dim3(kThreads), 0, stream, a);
}

bool aligned(const void* p, uint64_t offset, uint64_t to) {
  return (reinterpret_cast<uintptr_t>(p) + offset) % to == 0;
}

}  // namespace

cudaError_t launch_dequantize_rows(const DequantRowsArgs& a, cudaStream_t stream) {
  const int block = quant::with_unit_type(a.type, 0, [](auto unit) { return decltype(unit)::kBlockWeights; });
  if (block == 0 || a.k <= 0 || a.k % block != 0 || a.n_rows < 0 || !a.w || !a.y) return cudaErrorInvalidValue;
  if (!aligned(a.w, a.planes.qs, 16) || !aligned(a.w, a.planes.qh, 16) || !aligned(a.w, a.planes.scales, 8) ||
      !aligned(a.w, a.planes.d, 2)) {
    return cudaErrorInvalidValue;
  }
  if (a.n_rows == 0) return cudaSuccess;
  return quant::with_unit_type(a.type, cudaErrorInvalidValue, [&](auto unit) {
    using U = decltype(unit);
    switch (a.y_type) {
      case DType::f32: return launch_typed<U, float>(a, stream);
      case DType::f16: return launch_typed<U, __half>(a, stream);
      case DType::bf16: return launch_typed<U, __nv_bfloat16>(a, stream);
    }
    return cudaErrorInvalidValue;
  });
}

}  // namespace llmd::engine::cuda
