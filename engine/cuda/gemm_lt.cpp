#include "engine/cuda/gemm_lt.hpp"

#include <algorithm>
#include <string>

namespace llmd::engine::cuda {
namespace {

constexpr int kMaxCandidates = 8;

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

uint16_t alignment_of(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  uint16_t a = 256;
  while (a > 1 && (v % a) != 0) a >>= 1;
  return a;
}

std::string shape_string(const GemmArgs& a) {
  return "m=" + std::to_string(a.m) + " n=" + std::to_string(a.n) + " k=" + std::to_string(a.k) + " " +
         dtype_name(a.w_type) + "x" + dtype_name(a.x_type) + "->" + dtype_name(a.y_type) +
         (a.accumulate ? " (accumulate)" : "");
}

}  // namespace

size_t LtGemm::KeyHash::operator()(const Key& k) const {
  size_t h = static_cast<size_t>(k.m) * 0x9E3779B97F4A7C15ull;
  h ^= static_cast<size_t>(k.n) + 0x9E3779B9u + (h << 6) + (h >> 2);
  h ^= static_cast<size_t>(k.k) + 0x9E3779B9u + (h << 6) + (h >> 2);
  h ^= (static_cast<size_t>(k.w) | static_cast<size_t>(k.x) << 8 | static_cast<size_t>(k.y) << 16 |
        static_cast<size_t>(k.acc) << 24) +
       (h << 6) + (h >> 2);
  h ^= (static_cast<size_t>(k.align_w) | static_cast<size_t>(k.align_x) << 16 |
        static_cast<size_t>(k.align_y) << 32) +
       (h << 6) + (h >> 2);
  return h;
}

LtGemm::~LtGemm() {
  for (auto& [k, p] : plans_) destroy(p);
  if (handle_) (void)cublasLtDestroy(handle_);
}

void LtGemm::destroy(Plan& p) {
  if (p.desc) (void)cublasLtMatmulDescDestroy(p.desc);
  if (p.la) (void)cublasLtMatrixLayoutDestroy(p.la);
  if (p.lb) (void)cublasLtMatrixLayoutDestroy(p.lb);
  if (p.lc) (void)cublasLtMatrixLayoutDestroy(p.lc);
  p = Plan{};
}

Status LtGemm::init(void* workspace, size_t ws_bytes) {
  workspace_ = workspace;
  ws_bytes_ = ws_bytes;
  if (!handle_) LLMD_CUDA_TRY(*health_, cublasLtCreate(&handle_));
  return ok_status();
}

bool LtGemm::types_supported(DType w, DType x, DType y) { return w == x && (y == DType::f32 || y == w); }

Result<LtGemm::Plan*> LtGemm::plan_for(const GemmArgs& a) {
  if (!handle_) return Error(errc::kCublas, "cuBLASLt used before init");
  if (!types_supported(a.w_type, a.x_type, a.y_type) || a.m <= 0 || a.n <= 0 || a.k <= 0) {
    return Error(errc::kUnsupported, "unsupported GEMM " + shape_string(a));
  }
  Key key{static_cast<uint8_t>(a.w_type), static_cast<uint8_t>(a.x_type), static_cast<uint8_t>(a.y_type),
          static_cast<uint8_t>(a.accumulate), a.m, a.n, a.k, alignment_of(a.w), alignment_of(a.x),
          alignment_of(a.y)};
  auto it = plans_.find(key);
  if (it != plans_.end()) return &it->second;

  Plan p;
  cublasLtMatmulPreference_t pref = nullptr;
  auto fail = [&](Status st) -> Error {
    destroy(p);
    if (pref) (void)cublasLtMatmulPreferenceDestroy(pref);
    Error e = st.take_error();
    e.message += " [" + shape_string(a) + "]";
    return e;
  };
#define LLMD_LT_STEP(expr)                               \
  do {                                                   \
    Status st_ = health_->check((expr), #expr);          \
    if (!st_.ok()) return fail(std::move(st_));          \
  } while (0)

  LLMD_LT_STEP(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t op_t = CUBLAS_OP_T, op_n = CUBLAS_OP_N;
  LLMD_LT_STEP(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof op_t));
  LLMD_LT_STEP(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_n, sizeof op_n));
  LLMD_LT_STEP(cublasLtMatrixLayoutCreate(&p.la, cuda_type(a.w_type), static_cast<uint64_t>(a.k),
                                          static_cast<uint64_t>(a.m), a.k));
  LLMD_LT_STEP(cublasLtMatrixLayoutCreate(&p.lb, cuda_type(a.x_type), static_cast<uint64_t>(a.k),
                                          static_cast<uint64_t>(a.n), a.k));
  LLMD_LT_STEP(cublasLtMatrixLayoutCreate(&p.lc, cuda_type(a.y_type), static_cast<uint64_t>(a.m),
                                          static_cast<uint64_t>(a.n), a.m));
  LLMD_LT_STEP(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = ws_bytes_;
  LLMD_LT_STEP(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  const uint32_t al_a = key.align_w, al_b = key.align_x, al_c = key.align_y;
  LLMD_LT_STEP(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a));
  LLMD_LT_STEP(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b));
  LLMD_LT_STEP(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c));
  LLMD_LT_STEP(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c));
  cublasLtMatmulHeuristicResult_t results[kMaxCandidates] = {};
  int found = 0;
  LLMD_LT_STEP(cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.la, p.lb, p.lc, p.lc, pref, kMaxCandidates, results,
                                              &found));
#undef LLMD_LT_STEP
  (void)cublasLtMatmulPreferenceDestroy(pref);
  pref = nullptr;
  for (int i = 0; i < found; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS) p.algos.push_back(results[i]);
  }
  if (p.algos.empty()) {
    destroy(p);
    return Error(errc::kUnsupported, "cuBLASLt has no algorithm for GEMM " + shape_string(a));
  }
  auto [ins, ok] = plans_.emplace(key, p);
  (void)ok;
  return &ins->second;
}

Status LtGemm::launch(const GemmArgs& a, const Plan& p, int index, cudaStream_t stream) {
  const float alpha = 1.0f;
  const float beta = a.accumulate ? 1.0f : 0.0f;
  const auto& h = p.algos[static_cast<size_t>(index)];
  cublasStatus_t s = cublasLtMatmul(handle_, p.desc, &alpha, a.w, p.la, a.x, p.lb, &beta, a.y, p.lc, a.y, p.lc,
                                    &h.algo, workspace_, ws_bytes_, stream);
  if (s != CUBLAS_STATUS_SUCCESS) {
    Status st = health_->check(s, "cublasLtMatmul");
    Error e = st.take_error();
    e.message += " [" + shape_string(a) + "]";
    return e;
  }
  return ok_status();
}

Status LtGemm::run(const GemmArgs& a, cudaStream_t stream) {
  if (!health_->healthy()) return health_->failed_error();
  auto p = plan_for(a);
  if (!p) return p.take_error();
  return launch(a, **p, 0, stream);
}

Result<int> LtGemm::candidate_count(const GemmArgs& a) {
  auto p = plan_for(a);
  if (!p) return p.take_error();
  return static_cast<int>((*p)->algos.size());
}

Status LtGemm::run_candidate(const GemmArgs& a, int index, cudaStream_t stream) {
  auto p = plan_for(a);
  if (!p) return p.take_error();
  if (index < 0 || static_cast<size_t>(index) >= (*p)->algos.size()) {
    return Error(errc::kUnsupported, "no cuBLASLt candidate " + std::to_string(index));
  }
  return launch(a, **p, index, stream);
}

Result<int> LtGemm::tune(const GemmArgs& a, cudaStream_t stream, int reps) {
  if (!health_->healthy()) return health_->failed_error();
  auto planned = plan_for(a);
  if (!planned) return planned.take_error();
  Plan& p = **planned;
  if (p.algos.size() < 2) return 0;
  if (reps < 1) return Error(errc::kUnsupported, "GEMM tuning needs at least one timed run");
  cudaEvent_t start = nullptr, stop = nullptr;
  LLMD_CUDA_TRY(*health_, cudaEventCreate(&start));
  Status st = health_->check(cudaEventCreate(&stop), "cudaEventCreate");
  int best = 0;
  float best_ms = 0.0f;
  bool timed = false;
  for (size_t i = 0; st.ok() && i < p.algos.size(); ++i) {
    const int idx = static_cast<int>(i);
    // A candidate that fails to run is skipped; anything sticky ends the tuning.
    if (!launch(a, p, idx, stream).ok()) {
      if (!health_->healthy()) st = health_->failed_error();
      continue;
    }
    st = health_->check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int r = 0; st.ok() && r < reps; ++r) st = launch(a, p, idx, stream);
    if (st.ok()) st = health_->check(cudaEventRecord(stop, stream), "cudaEventRecord");
    if (st.ok()) st = health_->check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    if (st.ok()) st = health_->check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (st.ok() && (!timed || ms < best_ms)) {
      best = idx;
      best_ms = ms;
      timed = true;
    }
  }
  (void)cudaEventDestroy(start);
  if (stop) (void)cudaEventDestroy(stop);
  if (!st.ok()) return st.take_error();
  std::rotate(p.algos.begin(), p.algos.begin() + best, p.algos.begin() + best + 1);
  return best;
}

}  // namespace llmd::engine::cuda
