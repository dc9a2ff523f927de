// Projections over weights kept quantized (CudaBackendOptions::
// quantized_weights): the quantized GEMVs for decode-sized steps, the
// quantized tensor-core kernel for batches up to quant_gemm_max_tokens, a
// scratch copy dequantized for cuBLASLt otherwise; and the token embedding's
// gather from a quantized table.
#include <algorithm>
#include <string>

#include "engine/cuda/cuda_backend_impl.hpp"
#include "engine/cuda/kernels/dequant_layout.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/gemm_quant.hpp"
#include "engine/cuda/kernels/gemv_quant.hpp"

namespace llmd::engine::cuda {
namespace {

// The scratch holds at least this many weights, so that an output head
// dequantized in chunks of rows takes a few chunks, not hundreds.
constexpr size_t kMinScratchElems = size_t{16} << 20;

bool all_quantized(const DeviceMatrix& w) {
  for (int i = 0; i < w.n_parts; ++i)
    if (!w.parts[i].quantized) return false;
  return w.n_parts > 0;
}

// What every dequantization of a quantized part's rows reads.
DequantRowsArgs dequant_args(const MatrixPart& p) {
  DequantRowsArgs a;
  a.type = p.type;
  a.w = p.w;
  a.planes = p.planes;
  a.k = p.cols;
  return a;
}

// The product of part p with n tokens' activations x of type act.
GemvQuantArgs part_args(const MatrixPart& p, const void* x, DType act, int n) {
  GemvQuantArgs g;
  g.type = p.type;
  g.w = p.w;
  g.planes = p.planes;
  g.x = x;
  g.x_type = act;
  g.n_tokens = n;
  g.rows = p.rows;
  g.k = p.cols;
  return g;
}

size_t elems(const DeviceMatrix& w) { return static_cast<size_t>(w.rows) * static_cast<size_t>(w.cols); }

}  // namespace

bool CudaBackendImpl::quant_gemv(const DeviceMatrix& w, int n) const {
  if (!all_quantized(w)) return false;
  for (int i = 0; i < w.n_parts; ++i) {
    if (!gemv_quant_supported(w.parts[i].type, act_, w.cols, n, GemvMode::store)) return false;
  }
  return true;
}

bool CudaBackendImpl::quant_gemm(const DeviceMatrix& w, int n) const {
  if (n > opts_.quant_gemm_max_tokens || !qmm_partial_ || !all_quantized(w)) return false;
  for (int i = 0; i < w.n_parts; ++i) {
    if (!gemm_quant_supported(w.parts[i].type, act_, w.cols, n, GemvMode::store)) return false;
  }
  return true;
}

Status CudaBackendImpl::project_quantized(const DeviceMatrix& w, const void* x, int n, void* y, DType y_type,
                                          bool accumulate) {
  const bool gemv = quant_gemv(w, n);
  if (y_type == DType::f32 && (gemv || quant_gemm(w, n))) {
    // Each part writes its rows' columns of y (stride w.rows).
    int row0 = 0;
    for (int i = 0; i < w.n_parts; ++i) {
      const MatrixPart& p = w.parts[i];
      GemvQuantArgs g = part_args(p, x, act_, n);
      g.y = static_cast<float*>(y) + row0;
      g.ldy = w.rows;
      g.mode = accumulate ? GemvMode::accumulate : GemvMode::store;
      if (gemv) {
        LLMD_CUDA_TRY(health_, launch_gemv_quant(g, stream_));
        ++stats_.quant_gemvs;
      } else {
        const int splits = gemm_quant_splits(p.rows, n, p.cols, dev_.sm_count, qmm_partial_floats_);
        LLMD_CUDA_TRY(health_, launch_gemm_quant(g, splits, qmm_partial_, stream_));
        ++stats_.quant_gemms;
      }
      row0 += p.rows;
    }
    return ok_status();
  }

  const int m = w.rows, k = w.cols;
  if (!dq_scratch_ || k <= 0) return Error(errc::kUnsupported, "no scratch buffer for a quantized matrix");
  const int chunk = static_cast<int>(std::min<size_t>(static_cast<size_t>(m), dq_scratch_elems_ / static_cast<size_t>(k)));
  if (chunk >= m) {
    ++stats_.dequantized_gemms;
    LLMD_TRY(dense_rows(w, 0, m, dq_scratch_));
    return gemm(dq_scratch_, m, k, x, n, y, y_type, accumulate);
  }
  // Chunks of rows: each GEMM's [n][rows] output goes to its columns of y.
  if (accumulate || y_type != DType::f32 || chunk <= 0 ||
      static_cast<size_t>(n) * static_cast<size_t>(chunk) > head_chunk_elems_) {
    return Error(errc::kUnsupported, "a quantized " + std::to_string(m) + " x " + std::to_string(k) +
                                         " matrix does not fit the dequantization scratch for " + std::to_string(n) +
                                         " tokens");
  }
  for (int r0 = 0; r0 < m; r0 += chunk) {
    const int rows = std::min(chunk, m - r0);
    ++stats_.dequantized_gemms;
    LLMD_TRY(dense_rows(w, r0, rows, dq_scratch_));
    LLMD_TRY(gemm(dq_scratch_, rows, k, x, n, head_chunk_, DType::f32, false));
    LLMD_CUDA_TRY(health_, cudaMemcpy2DAsync(static_cast<float*>(y) + r0, static_cast<size_t>(m) * 4, head_chunk_,
                                             static_cast<size_t>(rows) * 4, static_cast<size_t>(rows) * 4,
                                             static_cast<size_t>(n), cudaMemcpyDeviceToDevice, stream_));
  }
  return ok_status();
}

bool CudaBackendImpl::quant_norm_gemv(const DeviceMatrix& w, int n, bool swiglu) const {
  if (!opts_.fuse_norm_gemv || !quant_gemv(w, n)) return false;
  if (swiglu && (w.n_parts != 1 || w.parts[0].rows % 2 != 0)) return false;
  for (int i = 0; i < w.n_parts; ++i) {
    if (!gemv_quant_supported(w.parts[i].type, act_, w.cols, n, swiglu ? GemvMode::swiglu : GemvMode::store, true)) {
      return false;
    }
  }
  return true;
}

Status CudaBackendImpl::project_quantized_normed(const DeviceMatrix& w, const float* norm_w, int n, void* out,
                                                 bool swiglu) {
  int row0 = 0;
  for (int i = 0; i < w.n_parts; ++i) {
    const MatrixPart& p = w.parts[i];
    GemvQuantArgs g = part_args(p, x_, act_, n);
    g.norm_w = norm_w;
    g.norm_eps = cfg_.rms_eps;
    if (swiglu) {
      g.rows = p.rows / 2;
      g.h = out;
      g.mode = GemvMode::swiglu;
    } else {
      g.y = static_cast<float*>(out) + row0;
      g.ldy = w.rows;
      g.mode = GemvMode::store;
    }
    LLMD_CUDA_TRY(health_, launch_gemv_quant(g, stream_));
    ++stats_.quant_gemvs;
    ++stats_.quant_norm_folded;
    row0 += p.rows;
  }
  return ok_status();
}

Status CudaBackendImpl::dense_rows(const DeviceMatrix& w, int row0, int n_rows, void* dst) {
  const size_t row_bytes = static_cast<size_t>(w.cols) * dtype_size(act_);
  int start = 0;  // first row of part i in w
  for (int i = 0; i < w.n_parts; ++i) {
    const MatrixPart& p = w.parts[i];
    const int lo = std::max(row0, start), hi = std::min(row0 + n_rows, start + p.rows);
    if (lo < hi) {
      char* out = static_cast<char*>(dst) + static_cast<size_t>(lo - row0) * row_bytes;
      if (p.quantized) {
        DequantRowsArgs a = dequant_args(p);
        a.row0 = lo - start;
        a.n_rows = hi - lo;
        a.y = out;
        a.y_type = act_;
        LLMD_CUDA_TRY(health_, launch_dequantize_rows(a, stream_));
      } else {
        LLMD_CUDA_TRY(health_, cudaMemcpyAsync(out, static_cast<const char*>(p.w) + static_cast<size_t>(lo - start) * row_bytes,
                                               static_cast<size_t>(hi - lo) * row_bytes, cudaMemcpyDeviceToDevice,
                                               stream_));
      }
    }
    start += p.rows;
  }
  return ok_status();
}

Status CudaBackendImpl::embed(const int32_t* tokens, int n_tokens) {
  const DeviceMatrix& t = w_.tok_embd;
  if (t.dense()) {
    LLMD_CUDA_TRY(health_, launch_embed(t.parts[0].w, w_.embd_type, tokens, n_tokens, cfg_.n_embd, x_, stream_));
    return ok_status();
  }
  // One tensor: one part.
  const MatrixPart& p = t.parts[0];
  DequantRowsArgs a = dequant_args(p);
  a.row_ids = tokens;
  a.n_rows = n_tokens;
  a.y = x_;
  a.y_type = DType::f32;
  LLMD_CUDA_TRY(health_, launch_dequantize_rows(a, stream_));
  return ok_status();
}

Status CudaBackendImpl::prepare_dequant_scratch() {
  size_t need = 0;
  for (const DeviceLayer& L : w_.layers) {
    for (const DeviceMatrix* m : {&L.wqkv, &L.wo, &L.wgu, &L.wdown}) {
      if (!m->dense()) need = std::max(need, elems(*m));
    }
  }
  const DeviceMatrix& head = w_.out_w;
  if ((need > 0 || !head.dense()) && opts_.quant_gemm_max_tokens > kGemvMaxTokens) {
    qmm_partial_floats_ = gemm_quant_partial_floats(dev_.sm_count);
    auto r = pool_.alloc_array<float>(qmm_partial_floats_, "quantized product partials");
    if (!r) return r.take_error();
    qmm_partial_ = *r;
  }
  if (!head.dense() && head.cols > 0) {
    // The head in chunks of whole rows when it does not fit.
    const size_t cap = std::max(need, kMinScratchElems);
    const size_t rows = std::min(static_cast<size_t>(head.rows), cap / static_cast<size_t>(head.cols));
    need = std::max(need, rows * static_cast<size_t>(head.cols));
    if (rows < static_cast<size_t>(head.rows)) {
      head_chunk_elems_ = static_cast<size_t>(head_rows_) * rows;
      auto r = pool_.alloc_array<float>(head_chunk_elems_, "output head chunk");
      if (!r) return r.take_error();
      head_chunk_ = *r;
    }
  }
  if (need == 0) return ok_status();
  auto r = pool_.alloc(need * dtype_size(act_), "dequantized weight scratch");
  if (!r) return r.take_error();
  dq_scratch_ = *r;
  dq_scratch_elems_ = need;
  return ok_status();
}

}  // namespace llmd::engine::cuda
