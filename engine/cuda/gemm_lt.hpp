// Projection GEMMs through cuBLASLt with f32 accumulation.
//
// Layout (row-major, as the weights come from GGUF):
//   W [m][k]  (one output feature per row)
//   X [n][k]  (one token per row)
//   Y [n][m]  = X W^T, or Y += X W^T with accumulate (residual add fused)
// In cuBLASLt's column-major terms that is D(m x n) = op_T(A: k x m) * B(k x n).
//
// The matmul descriptor, layouts and algorithm (cuBLASLt's first heuristic
// for the shape, element types and pointer alignments) are built once per
// shape and cached. tune() replaces the heuristic's choice for one shape by
// the fastest of its candidates, timed on the device.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/dtype.hpp"

namespace llmd::engine::cuda {

struct GemmArgs {
  const void* w = nullptr;
  DType w_type = DType::bf16;
  const void* x = nullptr;
  DType x_type = DType::bf16;
  void* y = nullptr;
  DType y_type = DType::f32;
  int m = 0;
  int n = 0;
  int k = 0;
  bool accumulate = false;
};

class LtGemm {
 public:
  explicit LtGemm(DeviceHealth* health) : health_(health) {}
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // Creates the cuBLASLt handle; `workspace` (device, `ws_bytes`) is used by
  // every call, so calls must stay on one stream.
  Status init(void* workspace, size_t ws_bytes);

  // Whether cuBLASLt accepts these element types (w == x; y f32 or == w).
  static bool types_supported(DType w, DType x, DType y);

  Status run(const GemmArgs& a, cudaStream_t stream);

  // For benchmarks: how many algorithms the heuristic offers for a shape, and
  // a run with the i-th of them (0 is what run() uses).
  Result<int> candidate_count(const GemmArgs& a);
  Status run_candidate(const GemmArgs& a, int index, cudaStream_t stream);

  // Times every candidate for a's shape (`reps` runs each after one warm-up,
  // on `stream`, synchronously) and makes the fastest the one run() uses for
  // that shape from now on. a.y is overwritten (and read with accumulate):
  // pass buffers whose contents do not matter. Returns the chosen candidate's
  // index in the heuristic's order (0: the heuristic was right).
  Result<int> tune(const GemmArgs& a, cudaStream_t stream, int reps = 3);

  size_t cached_shapes() const { return plans_.size(); }

 private:
  struct Key {
    uint8_t w, x, y, acc;
    int m, n, k;
    uint16_t align_w, align_x, align_y;
    bool operator==(const Key& o) const {
      return w == o.w && x == o.x && y == o.y && acc == o.acc && m == o.m && n == o.n && k == o.k &&
             align_w == o.align_w && align_x == o.align_x && align_y == o.align_y;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    std::vector<cublasLtMatmulHeuristicResult_t> algos;  // best first
  };

  Result<Plan*> plan_for(const GemmArgs& a);
  Status launch(const GemmArgs& a, const Plan& p, int index, cudaStream_t stream);
  static void destroy(Plan& p);

  DeviceHealth* health_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t ws_bytes_ = 0;
  std::unordered_map<Key, Plan, KeyHash> plans_;
};

}  // namespace llmd::engine::cuda
