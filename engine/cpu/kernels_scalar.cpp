// Portable kernels: plain C++ over the packed layouts of kernels.hpp. They
// define the arithmetic the SIMD variants follow and run on any CPU.
#include <cmath>
#include <cstring>

#include "engine/cpu/kernels.hpp"
#include "engine/quant/fp16.hpp"

namespace llmd::engine::cpu {
namespace {

using quant::bf16_to_f32;
using quant::f16_to_f32;

float load_weight(PackFormat f, const uint8_t* group, int64_t k, int lane) {
  const int64_t i = k * kRowGroup + lane;
  switch (f) {
    case PackFormat::f32: {
      float v;
      std::memcpy(&v, group + i * 4, 4);
      return v;
    }
    case PackFormat::f16: {
      uint16_t h;
      std::memcpy(&h, group + i * 2, 2);
      return f16_to_f32(h);
    }
    default: {
      uint16_t h;
      std::memcpy(&h, group + i * 2, 2);
      return bf16_to_f32(h);
    }
  }
}

void gemm_float(const GemmTask& t) {
  const PackedView& w = *t.w;
  for (int64_t g = t.g0; g < t.g1; ++g) {
    const uint8_t* group = w.data + static_cast<uint64_t>(g) * w.group_bytes;
    const int lanes = static_cast<int>(w.rows - g * kRowGroup < kRowGroup ? w.rows - g * kRowGroup : kRowGroup);
    for (int64_t c = t.c0; c < t.c1; ++c) {
      const float* x = t.x + c * t.x_stride;
      float* y = t.y + c * t.y_stride + g * kRowGroup;
      for (int lane = 0; lane < lanes; ++lane) {
        float acc = 0.0f;
        for (int64_t k = 0; k < w.cols; ++k) acc += load_weight(w.format, group, k, lane) * x[k];
        y[lane] = t.accumulate ? y[lane] + acc : acc;
      }
    }
  }
}

void gemm_int(const GemmTask& t) {
  const PackedView& w = *t.w;
  const ActQ8& a = *t.xq;
  const int bs = w.block;
  const int64_t nb = w.cols / bs;
  const bool affine = w.format == PackFormat::u4_b32_aff || w.format == PackFormat::u5_b32_aff;
  const bool nibbles = w.format == PackFormat::u4_b32_aff;
  const bool five = w.format == PackFormat::u5_b32_aff;
  const bool six = w.format == PackFormat::i6_b16;
  for (int64_t g = t.g0; g < t.g1; ++g) {
    const uint8_t* group = w.data + static_cast<uint64_t>(g) * w.group_bytes;
    const uint8_t* quants = group;
    const uint8_t* scales = group + w.scales_offset;
    const float* mins = reinterpret_cast<const float*>(group + w.mins_offset);
    const int lanes = static_cast<int>(w.rows - g * kRowGroup < kRowGroup ? w.rows - g * kRowGroup : kRowGroup);
    for (int64_t c = t.c0; c < t.c1; ++c) {
      const int8_t* xq = a.q + c * a.q_stride;
      const int8_t* xr = a.r + c * a.q_stride;
      const float* xd = a.d + c * a.d_stride;
      const int32_t* corr = bs == 16 ? a.corr16 + c * a.corr16_stride : a.corr32 + c * a.corr32_stride;
      const float* qsum = a.qsum32 + c * a.d_stride;
      float* y = t.y + c * t.y_stride + g * kRowGroup;
      for (int lane = 0; lane < lanes; ++lane) {
        float acc = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
          // Offset levels: -128 * sum(x) corrects u - 128 (i6: -32 * sum(x) for u - 32).
          int32_t hi = 0, lo = affine ? 0 : six ? corr[b] / 4 : corr[b];
          const uint8_t* qb = five ? quants + b * 5 * 64
                              : six ? quants + b * 3 * 64
                                    : quants + b * bs * kRowGroup / (nibbles ? 2 : 1);
          for (int j = 0; j < bs / 4; ++j) {
            for (int e = 0; e < 4; ++e) {
              int32_t u;
              if (nibbles || five || six) {
                u = (qb[((j / 2) * kRowGroup + lane) * 4 + e] >> (4 * (j % 2))) & 15;
                if (five) u |= ((qb[(4 * kRowGroup + lane) * 4 + e] >> j) & 1) << 4;
                if (six) u |= ((qb[(2 * kRowGroup + lane) * 4 + e] >> (2 * j)) & 3) << 4;
              } else {
                u = qb[(j * kRowGroup + lane) * 4 + e];
              }
              hi += u * xq[b * bs + j * 4 + e];
              lo += u * xr[b * bs + j * 4 + e];
            }
          }
          const int32_t isum = hi * 256 + lo;
          float s;
          if (w.format == PackFormat::i8_b32_f16) {
            uint16_t h;
            std::memcpy(&h, scales + (b * kRowGroup + lane) * 2, 2);
            s = f16_to_f32(h);
          } else if (six) {
            float d;
            std::memcpy(&d, group + w.mins_offset + ((b / 16) * kRowGroup + lane) * 4, 4);
            s = d * static_cast<float>(static_cast<int8_t>(scales[b * kRowGroup + lane]));
          } else {
            std::memcpy(&s, scales + (b * kRowGroup + lane) * 4, 4);
          }
          const float dx = xd[b * bs / kActBlock] * (1.0f / 256.0f);
          acc += static_cast<float>(isum) * (s * dx);
          if (affine) acc += mins[b * kRowGroup + lane] * qsum[b];
        }
        y[lane] = t.accumulate ? y[lane] + acc : acc;
      }
    }
  }
}

void gemm(const GemmTask& t) {
  if (t.w->format == PackFormat::f32 || t.w->format == PackFormat::f16 || t.w->format == PackFormat::bf16)
    gemm_float(t);
  else
    gemm_int(t);
}

void quantize_row(const float* x, int64_t cols, int8_t* q, int8_t* r, float* d, int32_t* corr16, int32_t* corr32,
                  float* qsum32) {
  for (int64_t b = 0; b < cols / kActBlock; ++b) {
    const float* xb = x + b * kActBlock;
    float amax = 0.0f;
    for (int i = 0; i < kActBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float scale = amax / 127.0f;
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t s[2] = {0, 0};
    int32_t sq = 0, sr = 0;
    for (int i = 0; i < kActBlock; ++i) {
      const float v = xb[i] * inv;
      const float hi = std::nearbyint(v);
      const float lo = std::fmin(127.0f, std::fmax(-127.0f, std::nearbyint((v - hi) * 256.0f)));
      q[b * kActBlock + i] = static_cast<int8_t>(hi);
      r[b * kActBlock + i] = static_cast<int8_t>(lo);
      s[i / 16] += 256 * static_cast<int32_t>(hi) + static_cast<int32_t>(lo);
      sq += static_cast<int32_t>(hi);
      sr += static_cast<int32_t>(lo);
    }
    d[b] = scale;
    corr16[2 * b] = -128 * s[0];
    corr16[2 * b + 1] = -128 * s[1];
    corr32[b] = -128 * (s[0] + s[1]);
    qsum32[b] = scale * (static_cast<float>(sq) + static_cast<float>(sr) * (1.0f / 256.0f));
  }
}

float kv_load(KvElem e, const void* base, int64_t i) {
  if (e == KvElem::f32) return static_cast<const float*>(base)[i];
  return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
}

void attention(const AttnTask& t) {
  const int bs = t.block_size, hd = t.head_dim;
  const int n_blocks = (t.n_keys + bs - 1) / bs;
  const int ld = n_blocks * bs;
  float* scores = t.scratch;
  for (int h = 0; h < t.g; ++h) {
    const float* q = t.q + h * hd;
    float* s = scores + h * ld;
    float mx = -INFINITY;
    for (int j = 0; j < t.n_keys; ++j) {
      const void* kt = static_cast<const char*>(t.k_tiles[j / bs]) + t.tile_offset;
      const int slot = j % bs;
      float dot = 0.0f;
      for (int d = 0; d < hd; ++d) dot += q[d] * kv_load(t.elem, kt, static_cast<int64_t>(d) * bs + slot);
      s[j] = dot * t.scale;
      mx = std::fmax(mx, s[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j < t.n_keys; ++j) {
      s[j] = std::exp(s[j] - mx);
      sum += s[j];
    }
    const float inv = 1.0f / sum;
    float* out = t.out + h * hd;
    for (int d = 0; d < hd; ++d) out[d] = 0.0f;
    for (int j = 0; j < t.n_keys; ++j) {
      const void* vt = static_cast<const char*>(t.v_tiles[j / bs]) + t.tile_offset;
      const int slot = j % bs;
      const float p = s[j] * inv;
      for (int d = 0; d < hd; ++d) out[d] += p * kv_load(t.elem, vt, static_cast<int64_t>(slot) * hd + d);
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = quant::f32_to_f16(x[i]);
}

// Eight partial sums (the loop the compiler vectorizes), folded in order.
void rms_norm(const float* __restrict x, const float* __restrict w, float* __restrict y, int64_t n, float eps) {
  float part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += x[i + k] * x[i + k];
  for (; i < n; ++i) part[0] += x[i] * x[i];
  float ss = 0.0f;
  for (float p : part) ss += p;
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t j = 0; j < n; ++j) y[j] = x[j] * scale * w[j];
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float* c2, const float* s2, bool adjacent) {
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    if (adjacent) {
      for (int64_t i = 0; i < n_rot; i += 2) {
        const float x0 = v[i], x1 = v[i + 1];
        v[i] = x0 * c2[i] + x1 * s2[i];
        v[i + 1] = x1 * c2[i + 1] + x0 * s2[i + 1];
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c2[i] + x1 * s2[i];
        v[i + half] = x1 * c2[i + half] + x0 * s2[i + half];
      }
    }
  }
}

const KernelTable kTable = {"scalar", gemm, quantize_row, attention, silu_mul, to_f16, rms_norm, rope};

}  // namespace

const KernelTable* kernel_table_scalar() { return &kTable; }

}  // namespace llmd::engine::cpu
