// A float64 reference forward pass of a Llama-family Model (weights
// dequantized exactly, every operation in double, exact K/V), used to check
// backends' logits: ||out - ref|| / ||ref||.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/model/model.hpp"
#include "engine/quant/dequantize.hpp"

namespace llmd::test {

class F64Reference {
 public:
  explicit F64Reference(const engine::Model& m) : c_(m.config()), inv_freq_(m.rope_inv_freq()) {
    embd_ = load(m.token_embd());
    out_norm_ = load(m.output_norm());
    out_ = load(m.output());
    for (int l = 0; l < c_.n_layer; ++l) {
      const auto& L = m.layer(l);
      Layer r;
      r.attn_norm = load(L.attn_norm);
      r.wq = load(L.wq);
      r.wk = load(L.wk);
      r.wv = load(L.wv);
      if (c_.qkv_bias) {
        r.bq = load(L.bq);
        r.bk = load(L.bk);
        r.bv = load(L.bv);
      }
      r.wo = load(L.wo);
      r.ffn_norm = load(L.ffn_norm);
      r.wg = load(L.w_gate);
      r.wu = load(L.w_up);
      r.wd = load(L.w_down);
      layers_.push_back(std::move(r));
    }
  }

  // Logits [tokens.size()][n_vocab] of a sequence starting at position 0.
  std::vector<std::vector<double>> logits(const std::vector<int32_t>& tokens) const {
    const int E = c_.n_embd, Q = c_.q_dim(), KV = c_.kv_dim(), F = c_.n_ff, hd = c_.head_dim;
    const size_t T = tokens.size();
    std::vector<std::vector<double>> x(T, std::vector<double>(E));
    for (size_t t = 0; t < T; ++t)
      for (int i = 0; i < E; ++i) x[t][i] = embd_[static_cast<size_t>(tokens[t]) * E + i];
    for (const Layer& L : layers_) {
      std::vector<std::vector<double>> q(T), k(T), v(T);
      for (size_t t = 0; t < T; ++t) {
        const auto xn = rmsnorm(x[t], L.attn_norm);
        q[t] = matvec(L.wq, Q, E, xn);
        k[t] = matvec(L.wk, KV, E, xn);
        v[t] = matvec(L.wv, KV, E, xn);
        if (c_.qkv_bias) {
          for (int i = 0; i < Q; ++i) q[t][i] += L.bq[i];
          for (int i = 0; i < KV; ++i) k[t][i] += L.bk[i], v[t][i] += L.bv[i];
        }
        for (int h = 0; h < c_.n_head; ++h) rope(&q[t][static_cast<size_t>(h) * hd], static_cast<int>(t));
        for (int h = 0; h < c_.n_head_kv; ++h) rope(&k[t][static_cast<size_t>(h) * hd], static_cast<int>(t));
      }
      const int G = c_.n_head / c_.n_head_kv;
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      for (size_t t = 0; t < T; ++t) {
        std::vector<double> att(Q);
        for (int h = 0; h < c_.n_head; ++h) {
          const int kvh = h / G;
          std::vector<double> s(t + 1);
          double mx = -INFINITY;
          for (size_t j = 0; j <= t; ++j) {
            double d = 0;
            for (int e = 0; e < hd; ++e) d += q[t][static_cast<size_t>(h) * hd + e] * k[j][static_cast<size_t>(kvh) * hd + e];
            s[j] = d * scale;
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (auto& e : s) sum += (e = std::exp(e - mx));
          for (int e = 0; e < hd; ++e) {
            double o = 0;
            for (size_t j = 0; j <= t; ++j) o += s[j] * v[j][static_cast<size_t>(kvh) * hd + e];
            att[static_cast<size_t>(h) * hd + e] = o / sum;
          }
        }
        const auto o = matvec(L.wo, E, Q, att);
        for (int i = 0; i < E; ++i) x[t][i] += o[i];
        const auto xn = rmsnorm(x[t], L.ffn_norm);
        const auto g = matvec(L.wg, F, E, xn);
        const auto u = matvec(L.wu, F, E, xn);
        std::vector<double> h(F);
        for (int i = 0; i < F; ++i) h[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
        const auto d = matvec(L.wd, E, F, h);
        for (int i = 0; i < E; ++i) x[t][i] += d[i];
      }
    }
    std::vector<std::vector<double>> out(T);
    for (size_t t = 0; t < T; ++t) out[t] = matvec(out_, c_.n_vocab, E, rmsnorm(x[t], out_norm_));
    return out;
  }

 private:
  struct Layer {
    std::vector<double> attn_norm, wq, wk, wv, bq, bk, bv, wo, ffn_norm, wg, wu, wd;
  };

  static std::vector<double> load(const engine::WeightView& v) {
    std::vector<float> row(static_cast<size_t>(v.cols));
    std::vector<double> out;
    out.reserve(static_cast<size_t>(v.rows * v.cols));
    for (int64_t r = 0; r < v.rows; ++r) {
      quant::dequantize_row(v.type, v.row(r), row.data(), v.cols);
      out.insert(out.end(), row.begin(), row.end());
    }
    return out;
  }

  std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c_.rms_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
    return y;
  }

  static std::vector<double> matvec(const std::vector<double>& w, int rows, int cols, const std::vector<double>& x) {
    std::vector<double> y(static_cast<size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      const double* wr = &w[static_cast<size_t>(r) * cols];
      for (int i = 0; i < cols; ++i) s += wr[i] * x[i];
      y[r] = s;
    }
    return y;
  }

  void rope(double* v, int pos) const {
    const int half = c_.n_rot / 2;
    const bool adjacent = c_.rope_style == engine::RopeStyle::adjacent;
    for (int i = 0; i < half; ++i) {
      const int i0 = adjacent ? 2 * i : i;
      const int i1 = adjacent ? 2 * i + 1 : i + half;
      const double a = pos * inv_freq_[static_cast<size_t>(i)];
      const double x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * std::cos(a) - x1 * std::sin(a);
      v[i1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
  }

  engine::ModelConfig c_;
  std::vector<double> inv_freq_;
  std::vector<double> embd_, out_norm_, out_;
  std::vector<Layer> layers_;
};

}  // namespace llmd::test
