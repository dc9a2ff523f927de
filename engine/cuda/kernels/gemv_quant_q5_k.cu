// The quantized GEMVs for q5_k weights (gemv_quant_kernel.cuh).
#include "engine/cuda/kernels/gemv_quant_kernel.cuh"

namespace llmd::engine::cuda {

template <>
cudaError_t launch_gemv_quant_unit<quant::UnitQ5_K>(const GemvQuantArgs& a, cudaStream_t stream) {
  return gemv_quant_detail::launch_unit<quant::UnitQ5_K>(a, stream);
}

}  // namespace llmd::engine::cuda
