// Element-wise kernels, RoPE + KV store and the decode GEMV against CPU
// references in double precision. Inputs are drawn fresh each run (seed in the
// failure message); outputs are poisoned with NaN before every launch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/cuda/kernels/elementwise.hpp"
#include "engine/cuda/kernels/gemv.hpp"
#include "engine/cuda/kernels/rope_kv.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::download_as_f32;
using test::cuda::upload_as;
using test::cuda::rel_error;
using test::cuda::Rng;

double silu(double g) { return g / (1.0 + std::exp(-g)); }

TEST(CudaKernels, EmbeddingGather) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int vocab = 300, dim = 72, n = 9;
  std::vector<float> table = rng.normal_vec(static_cast<size_t>(vocab) * dim);
  std::vector<int32_t> toks(n);
  for (auto& t : toks) t = rng.range(0, vocab - 1);
  toks[0] = vocab - 1;
  auto bf = test::cuda::to_bf16(table);
  DevArray<__nv_bfloat16> d_bf(bf);
  DevArray<float> d_f32(table);
  DevArray<int32_t> d_toks(toks);
  DevArray<float> d_out(static_cast<size_t>(n) * dim);
  ASSERT_TRUE(d_bf.ok() && d_f32.ok() && d_toks.ok() && d_out.ok());
  for (DType t : {DType::f32, DType::bf16}) {
    d_out.poison();
    CUDA_OK(launch_embed(t == DType::f32 ? static_cast<const void*>(d_f32.get()) : d_bf.get(), t, d_toks.get(), n,
                         dim, d_out.get(), nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    auto out = d_out.download();
    std::vector<double> ref(out.size());
    for (int i = 0; i < n; ++i)
      for (int d = 0; d < dim; ++d) {
        const float v = table[static_cast<size_t>(toks[i]) * dim + d];
        ref[static_cast<size_t>(i) * dim + d] = t == DType::f32 ? v : test::cuda::round_bf16(v);
      }
    EXPECT_EQ(rel_error(ref, out), 0.0) << dtype_name(t);
  }
}

TEST(CudaKernels, RmsNormWithRowGather) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (int dim : {64, 4096, 5120 + 7}) {
    const int rows_in = 11;
    std::vector<float> x = rng.normal_vec(static_cast<size_t>(rows_in) * dim, 3.0f);
    std::vector<float> w = rng.uniform_vec(dim, 0.5f, 1.5f);
    std::vector<int32_t> rows = {10, 0, 3, 3, 7};
    const float eps = 1e-5f;
    DevArray<float> d_x(x), d_w(w), d_y32(rows.size() * dim);
    DevArray<int32_t> d_rows(rows);
    DevArray<__nv_bfloat16> d_ybf(rows.size() * dim);
    ASSERT_TRUE(d_x.ok() && d_w.ok() && d_y32.ok() && d_rows.ok() && d_ybf.ok());
    d_y32.poison();
    d_ybf.poison();
    CUDA_OK(launch_rmsnorm(d_x.get(), d_rows.get(), static_cast<int>(rows.size()), dim, d_w.get(), eps, d_y32.get(),
                           DType::f32, nullptr));
    CUDA_OK(launch_rmsnorm(d_x.get(), d_rows.get(), static_cast<int>(rows.size()), dim, d_w.get(), eps, d_ybf.get(),
                           DType::bf16, nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<double> ref(rows.size() * dim);
    for (size_t r = 0; r < rows.size(); ++r) {
      const float* xr = &x[static_cast<size_t>(rows[r]) * dim];
      double ss = 0;
      for (int i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const double s = 1.0 / std::sqrt(ss / dim + eps);
      for (int i = 0; i < dim; ++i) ref[r * dim + i] = xr[i] * s * w[i];
    }
    EXPECT_LT(rel_error(ref, d_y32.download()), 1e-5) << "dim " << dim;
    const double e_bf = rel_error(ref, test::cuda::to_f32(d_ybf.download()));
    EXPECT_LT(e_bf, 5e-3) << "dim " << dim;
    EXPECT_GT(e_bf, 0.0) << "bf16 output should carry rounding";
  }
}

TEST(CudaKernels, SwigluAddConvert) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  // Widths that are a multiple of 8 take the eight-wide kernel, the others
  // the one-element kernel; every input/output type pair the backend uses.
  const int n = 5;
  for (int ffn : {1000, 1003, 8}) {
    for (const auto& [in_t, out_t] : {std::pair{DType::f32, DType::f32}, std::pair{DType::bf16, DType::bf16},
                                      std::pair{DType::f16, DType::f16}, std::pair{DType::f32, DType::bf16}}) {
      SCOPED_TRACE("ffn " + std::to_string(ffn) + " " + dtype_name(in_t) + " -> " + dtype_name(out_t));
      std::vector<float> gu = rng.normal_vec(static_cast<size_t>(n) * 2 * ffn, 2.0f);
      for (float& v : gu) v = in_t == DType::bf16 ? test::cuda::round_bf16(v) : in_t == DType::f16 ? test::cuda::round_f16(v) : v;
      DevArray<uint8_t> d_gu(gu.size() * dtype_size(in_t)), d_h(static_cast<size_t>(n) * ffn * dtype_size(out_t));
      ASSERT_TRUE(d_gu.ok() && d_h.ok());
      upload_as(d_gu, gu, in_t);
      d_h.poison();
      CUDA_OK(launch_swiglu(d_gu.get(), in_t, n, ffn, d_h.get(), out_t, nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      std::vector<double> ref(static_cast<size_t>(n) * ffn);
      for (int t = 0; t < n; ++t)
        for (int i = 0; i < ffn; ++i)
          ref[static_cast<size_t>(t) * ffn + i] =
              silu(gu[static_cast<size_t>(t) * 2 * ffn + i]) * gu[static_cast<size_t>(t) * 2 * ffn + ffn + i];
      const std::vector<float> got = download_as_f32(d_h, out_t);
      size_t nan = 0;
      for (float v : got) nan += std::isnan(v);
      EXPECT_EQ(nan, 0u) << "unwritten outputs";
      EXPECT_LT(rel_error(ref, got), out_t == DType::f32 ? 1e-6 : 5e-3);
    }
  }

  std::vector<float> y = rng.normal_vec(12345), x = rng.normal_vec(12345);
  DevArray<float> d_y(y), d_x(x);
  ASSERT_TRUE(d_y.ok() && d_x.ok());
  CUDA_OK(launch_add_inplace(d_y.get(), d_x.get(), y.size(), nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<double> ref_add(y.size());
  for (size_t i = 0; i < y.size(); ++i) ref_add[i] = static_cast<double>(y[i]) + x[i];
  EXPECT_LT(rel_error(ref_add, d_y.download()), 1e-7);

  DevArray<__half> d_h16(x.size());
  DevArray<float> d_back(x.size());
  ASSERT_TRUE(d_h16.ok() && d_back.ok());
  d_h16.poison();
  d_back.poison();
  CUDA_OK(launch_convert(d_x.get(), DType::f32, d_h16.get(), DType::f16, x.size(), nullptr));
  CUDA_OK(launch_convert(d_h16.get(), DType::f16, d_back.get(), DType::f32, x.size(), nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<double> ref_cv(x.size());
  for (size_t i = 0; i < x.size(); ++i) ref_cv[i] = test::cuda::round_f16(x[i]);
  EXPECT_EQ(rel_error(ref_cv, d_back.download()), 0.0);
}

TEST(CudaKernels, RandomFillIsDeterministicAndInRange) {
  LLMD_REQUIRE_GPU();
  const size_t n = 1 << 20;
  DevArray<__nv_bfloat16> a(n), b(n), c(n);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  a.poison();
  b.poison();
  c.poison();
  CUDA_OK(launch_fill_random(a.get(), DType::bf16, n, -0.5f, 0.5f, 42, nullptr));
  CUDA_OK(launch_fill_random(b.get(), DType::bf16, n, -0.5f, 0.5f, 42, nullptr));
  CUDA_OK(launch_fill_random(c.get(), DType::bf16, n, -0.5f, 0.5f, 43, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const auto va = test::cuda::to_f32(a.download());
  const auto vb = test::cuda::to_f32(b.download());
  const auto vc = test::cuda::to_f32(c.download());
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  double mean = 0, sq = 0;
  for (float v : va) {
    ASSERT_GE(v, -0.5f);
    ASSERT_LE(v, 0.5f);
    mean += v;
    sq += static_cast<double>(v) * v;
  }
  mean /= n;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0 / 12.0, 0.01);  // variance of U(-0.5, 0.5)
}

// Reference rotation of one head vector with the table's cos/sin.
void rope_ref(const float* in, const float* bias, int hd, int rope_dim, bool neox, const float* cs, double* out) {
  std::vector<double> x(hd);
  for (int e = 0; e < hd; ++e) x[e] = static_cast<double>(in[e]) + (bias ? bias[e] : 0.0f);
  for (int e = 0; e < hd; ++e) out[e] = x[e];
  for (int i = 0; i < rope_dim / 2; ++i) {
    const int e0 = neox ? i : 2 * i;
    const int e1 = neox ? i + rope_dim / 2 : 2 * i + 1;
    const double c = cs[2 * i], sn = cs[2 * i + 1];
    out[e0] = x[e0] * c - x[e1] * sn;
    out[e1] = x[e0] * sn + x[e1] * c;
  }
}

TEST(CudaKernels, RopeTableMatchesDoublePrecision) {
  LLMD_REQUIRE_GPU();
  const int half = 64, n_pos = 8192;
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) inv_freq[i] = std::pow(500000.0, -2.0 * i / (2 * half)) / (i % 3 == 0 ? 8.0 : 1.0);
  DevArray<double> d_freq(inv_freq);
  DevArray<float> d_cs(static_cast<size_t>(n_pos) * half * 2);
  ASSERT_TRUE(d_freq.ok() && d_cs.ok());
  d_cs.poison();
  CUDA_OK(launch_rope_table(d_freq.get(), half, n_pos, d_cs.get(), nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const auto cs = d_cs.download();
  size_t off_by_more_than_ulp = 0, inexact = 0;
  for (int p = 0; p < n_pos; ++p)
    for (int i = 0; i < half; ++i) {
      const double a = p * inv_freq[i];
      const float want[2] = {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))};
      for (int k = 0; k < 2; ++k) {
        const float got = cs[(static_cast<size_t>(p) * half + i) * 2 + k];
        if (got != want[k]) ++inexact;
        if (!(std::fabs(got - want[k]) <= std::fabs(std::nextafter(want[k], 2.0f) - want[k]))) ++off_by_more_than_ulp;
      }
    }
  EXPECT_EQ(off_by_more_than_ulp, 0u);
  EXPECT_LT(inexact, 20u) << "the table should equal the host's double-precision angles rounded to f32";
}

TEST(CudaKernels, RopeWritesQueriesAndPagedKv) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  struct Case {
    int n_head, n_head_kv, hd, rope_dim, bs;
    bool neox, bias;
    DType kv;
  };
  // 7 tokens: one head per block; kRopeKvWideTokens and more: four heads per
  // thread, head counts that do and do not divide by four.
  for (const int n_tokens : {7, kRopeKvWideTokens + 6})
  for (const Case& c : {Case{8, 4, 8, 8, 16, false, false, DType::f32}, Case{32, 8, 128, 128, 16, false, false, DType::f16},
                        Case{14, 2, 64, 64, 32, true, true, DType::f16}, Case{4, 2, 64, 32, 8, true, false, DType::f32},
                        Case{3, 2, 32, 16, 8, false, true, DType::f16}}) {
    SCOPED_TRACE("heads " + std::to_string(c.n_head) + "/" + std::to_string(c.n_head_kv) + " hd " +
                 std::to_string(c.hd) + (c.neox ? " neox" : " norm") + ", " + std::to_string(n_tokens) + " tokens");
    // bt_stride blocks cover position 105 at the smallest block size (8).
    const int n_seqs = 2, n_blocks = 64, bt_stride = 16;
    const int width = (c.n_head + 2 * c.n_head_kv) * c.hd;
    std::vector<float> qkv = rng.normal_vec(static_cast<size_t>(n_tokens) * width);
    std::vector<float> bias = rng.normal_vec(width, 0.5f);
    // Positions distinct within each sequence (each token its own cache row).
    std::vector<int32_t> pos = {0, 1, 2, 37, 5, 6, 100};
    std::vector<int32_t> seq = {0, 0, 0, 0, 1, 1, 1};
    if (n_tokens != 7) {
      pos.clear();
      seq.clear();
      for (int t = 0; t < n_tokens; ++t) {
        seq.push_back(t % 2);
        pos.push_back(3 * (t / 2));
      }
    }
    // Distinct random blocks for the two sequences.
    std::vector<int32_t> perm(n_blocks);
    for (int i = 0; i < n_blocks; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng.gen());
    std::vector<int32_t> bt(static_cast<size_t>(n_seqs) * bt_stride);
    for (size_t i = 0; i < bt.size(); ++i) bt[i] = perm[i];
    const int half = c.rope_dim / 2, n_pos = 128;
    std::vector<float> table(static_cast<size_t>(n_pos) * half * 2);
    for (int p = 0; p < n_pos; ++p)
      for (int i = 0; i < half; ++i) {
        const double a = p * std::pow(10000.0, -2.0 * i / c.rope_dim);
        table[(static_cast<size_t>(p) * half + i) * 2] = static_cast<float>(std::cos(a));
        table[(static_cast<size_t>(p) * half + i) * 2 + 1] = static_cast<float>(std::sin(a));
      }

    const size_t cache_elems = static_cast<size_t>(n_blocks) * c.n_head_kv * c.bs * c.hd;
    const size_t esz = c.kv == DType::f16 ? 2 : 4;
    DevArray<float> d_qkv(qkv), d_bias(bias), d_freq(table), d_q(static_cast<size_t>(n_tokens) * c.n_head * c.hd);
    DevArray<int32_t> d_pos(pos), d_seq(seq), d_bt(bt);
    DevArray<uint8_t> d_k(cache_elems * esz), d_v(cache_elems * esz);
    ASSERT_TRUE(d_qkv.ok() && d_bias.ok() && d_freq.ok() && d_q.ok() && d_pos.ok() && d_seq.ok() && d_bt.ok() &&
                d_k.ok() && d_v.ok());
    d_q.poison();
    d_k.poison();
    d_v.poison();
    RopeKvArgs a;
    a.qkv = d_qkv.get();
    a.bias = c.bias ? d_bias.get() : nullptr;
    a.pos = d_pos.get();
    a.seq = d_seq.get();
    a.block_tables = d_bt.get();
    a.bt_stride = bt_stride;
    a.rope_cs = d_freq.get();
    a.q_out = d_q.get();
    a.k_cache = d_k.get();
    a.v_cache = d_v.get();
    a.kv_type = c.kv;
    a.n_tokens = n_tokens;
    a.n_head = c.n_head;
    a.n_head_kv = c.n_head_kv;
    a.head_dim = c.hd;
    a.rope_dim = c.rope_dim;
    a.block_size = c.bs;
    a.neox = c.neox;
    CUDA_OK(launch_rope_kv(a, nullptr));
    CUDA_OK(cudaDeviceSynchronize());

    auto q = d_q.download();
    auto kraw = d_k.download();
    auto vraw = d_v.download();
    auto cache_at = [&](const std::vector<uint8_t>& raw, size_t idx) -> double {
      if (c.kv == DType::f32) {
        float f;
        std::memcpy(&f, &raw[idx * 4], 4);
        return f;
      }
      __half h;
      std::memcpy(&h, &raw[idx * 2], 2);
      return __half2float(h);
    };
    std::vector<double> ref_q, got_q, ref_kv, got_kv;
    std::vector<bool> written(cache_elems, false);
    std::vector<double> head(c.hd);
    for (int t = 0; t < n_tokens; ++t) {
      const float* in = &qkv[static_cast<size_t>(t) * width];
      for (int h = 0; h < c.n_head; ++h) {
        rope_ref(in + h * c.hd, c.bias ? &bias[h * c.hd] : nullptr, c.hd, c.rope_dim, c.neox,
                 &table[static_cast<size_t>(pos[t]) * half * 2], head.data());
        for (int e = 0; e < c.hd; ++e) {
          ref_q.push_back(head[e]);
          got_q.push_back(q[(static_cast<size_t>(t) * c.n_head + h) * c.hd + e]);
        }
      }
      const int blk = bt[static_cast<size_t>(seq[t]) * bt_stride + pos[t] / c.bs];
      const int slot = pos[t] % c.bs;
      for (int kvh = 0; kvh < c.n_head_kv; ++kvh) {
        const int hk = c.n_head + kvh;
        rope_ref(in + hk * c.hd, c.bias ? &bias[hk * c.hd] : nullptr, c.hd, c.rope_dim, c.neox,
                 &table[static_cast<size_t>(pos[t]) * half * 2], head.data());
        const size_t base = ((static_cast<size_t>(blk) * c.n_head_kv + kvh) * c.bs + slot) * c.hd;
        for (int e = 0; e < c.hd; ++e) {
          ref_kv.push_back(head[e]);
          got_kv.push_back(cache_at(kraw, base + e));
          written[base + e] = true;
          const int vi = (c.n_head + c.n_head_kv + kvh) * c.hd + e;
          ref_kv.push_back(static_cast<double>(in[vi]) + (c.bias ? bias[vi] : 0.0f));
          got_kv.push_back(cache_at(vraw, base + e));
        }
      }
    }
    EXPECT_LT(rel_error(ref_q, got_q), 1e-6);
    EXPECT_LT(rel_error(ref_kv, got_kv), c.kv == DType::f16 ? 1e-3 : 1e-5);
    // Nothing outside the new tokens' slots was touched.
    size_t touched = 0;
    for (size_t i = 0; i < cache_elems; ++i) {
      if (!written[i] && !std::isnan(cache_at(kraw, i))) ++touched;
      if (!written[i] && !std::isnan(cache_at(vraw, i))) ++touched;
    }
    EXPECT_EQ(touched, 0u);
  }
}

// norm: x is f32 and RMS-normalised with weights g first (the fused norm).
template <typename T>
void run_gemv_case(Rng& rng, DType wt, int rows, int k, int nt, GemvMode mode, bool norm = false) {
  SCOPED_TRACE("gemv " + std::string(dtype_name(wt)) + " rows " + std::to_string(rows) + " k " + std::to_string(k) +
               " tokens " + std::to_string(nt) + " mode " + std::to_string(static_cast<int>(mode)) +
               (norm ? " fused norm" : ""));
  const int wrows = mode == GemvMode::swiglu ? 2 * rows : rows;
  const float eps = 1e-5f;
  std::vector<float> w = rng.uniform_vec(static_cast<size_t>(wrows) * k, -1.0f, 1.0f);
  std::vector<float> x = rng.normal_vec(static_cast<size_t>(nt) * k, norm ? 3.0f : 1.0f);
  std::vector<float> g = rng.uniform_vec(static_cast<size_t>(k), 0.5f, 1.5f);
  std::vector<T> wq(w.size()), xq(x.size());
  for (size_t i = 0; i < w.size(); ++i) {
    if constexpr (std::is_same_v<T, __half>) wq[i] = __float2half(w[i]), w[i] = __half2float(wq[i]);
    else wq[i] = __float2bfloat16(w[i]), w[i] = __bfloat162float(wq[i]);
  }
  for (size_t i = 0; i < x.size() && !norm; ++i) {
    if constexpr (std::is_same_v<T, __half>) xq[i] = __float2half(x[i]), x[i] = __half2float(xq[i]);
    else xq[i] = __float2bfloat16(x[i]), x[i] = __bfloat162float(xq[i]);
  }
  // The activations the product sees: x, or RMSNorm(x) * g.
  std::vector<double> xa(x.begin(), x.end());
  if (norm) {
    for (int t = 0; t < nt; ++t) {
      double ss = 0;
      for (int i = 0; i < k; ++i) ss += static_cast<double>(x[static_cast<size_t>(t) * k + i]) * x[static_cast<size_t>(t) * k + i];
      const double scale = 1.0 / std::sqrt(ss / k + eps);
      for (int i = 0; i < k; ++i) xa[static_cast<size_t>(t) * k + i] *= scale * g[static_cast<size_t>(i)];
    }
  }
  std::vector<double> dots(static_cast<size_t>(nt) * wrows);
  for (int t = 0; t < nt; ++t)
    for (int r = 0; r < wrows; ++r) {
      double s = 0;
      for (int i = 0; i < k; ++i) s += static_cast<double>(w[static_cast<size_t>(r) * k + i]) * xa[static_cast<size_t>(t) * k + i];
      dots[static_cast<size_t>(t) * wrows + r] = s;
    }
  DevArray<T> d_w(wq), d_xq(xq);
  DevArray<float> d_x32(x), d_g(g);
  ASSERT_TRUE(d_w.ok() && d_xq.ok() && d_x32.ok() && d_g.ok());
  GemvArgs a;
  a.w = d_w.get();
  a.w_type = wt;
  a.x = norm ? static_cast<const void*>(d_x32.get()) : static_cast<const void*>(d_xq.get());
  a.norm_w = norm ? d_g.get() : nullptr;
  a.norm_eps = eps;
  a.n_tokens = nt;
  a.rows = rows;
  a.k = k;
  a.mode = mode;
  std::vector<double> ref(static_cast<size_t>(nt) * rows);
  std::vector<float> y0 = rng.normal_vec(static_cast<size_t>(nt) * rows);
  for (int t = 0; t < nt; ++t)
    for (int r = 0; r < rows; ++r) {
      const size_t i = static_cast<size_t>(t) * rows + r;
      ref[i] = mode == GemvMode::swiglu
                   ? silu(dots[static_cast<size_t>(t) * wrows + r]) * dots[static_cast<size_t>(t) * wrows + rows + r]
                   : dots[static_cast<size_t>(t) * wrows + r] + (mode == GemvMode::accumulate ? y0[i] : 0.0);
    }
  std::vector<float> out;
  if (mode == GemvMode::swiglu) {
    DevArray<T> d_y(static_cast<size_t>(nt) * rows);
    ASSERT_TRUE(d_y.ok());
    d_y.poison();
    a.y = d_y.get();
    CUDA_OK(launch_gemv(a, nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    out = test::cuda::to_f32(d_y.download());
  } else {
    DevArray<float> d_y(static_cast<size_t>(nt) * rows);
    ASSERT_TRUE(d_y.ok());
    if (mode == GemvMode::accumulate) d_y.upload(y0);
    else d_y.poison();
    a.y = d_y.get();
    CUDA_OK(launch_gemv(a, nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    out = d_y.download();
  }
  EXPECT_LT(rel_error(ref, out), mode == GemvMode::swiglu ? 1e-2 : 1e-5);
}

TEST(CudaKernels, GemvAllModesAndTokenCounts) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (int nt = 1; nt <= kGemvMaxTokens; ++nt) {
    run_gemv_case<__nv_bfloat16>(rng, DType::bf16, 203, 1024 + 8 * 13, nt, GemvMode::store);
  }
  run_gemv_case<__nv_bfloat16>(rng, DType::bf16, 77, 4096, 1, GemvMode::accumulate);
  run_gemv_case<__nv_bfloat16>(rng, DType::bf16, 64, 8, 3, GemvMode::store);
  run_gemv_case<__nv_bfloat16>(rng, DType::bf16, 130, 2048, 2, GemvMode::swiglu);
  run_gemv_case<__half>(rng, DType::f16, 99, 4096 + 8, 4, GemvMode::accumulate);
  run_gemv_case<__half>(rng, DType::f16, 50, 512, 1, GemvMode::swiglu);
  EXPECT_FALSE(gemv_supported(DType::bf16, 100, 1));  // k not a multiple of 8
  EXPECT_FALSE(gemv_supported(DType::f32, 64, 1));
  EXPECT_FALSE(gemv_supported(DType::bf16, 64, kGemvMaxTokens + 1));
}

// The fused RMSNorm, at sizes whose chunks do not fill the unrolled loop
// evenly, for every token count and mode.
TEST(CudaKernels, GemvWithFusedNorm) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (int k : {8, 1024, 4096 + 8 * 37}) {
    run_gemv_case<__nv_bfloat16>(rng, DType::bf16, 45, k, 1, GemvMode::accumulate, true);
    run_gemv_case<__half>(rng, DType::f16, 67, k, 1, GemvMode::swiglu, true);
  }
  for (int nt = 1; nt <= kGemvMaxTokens; ++nt) {
    run_gemv_case<__nv_bfloat16>(rng, DType::bf16, 97, 2048 + 8 * 5, nt, GemvMode::store, true);
    run_gemv_case<__half>(rng, DType::f16, 61, 1024, nt, GemvMode::swiglu, true);
  }
}

}  // namespace
}  // namespace llmd::engine::cuda
