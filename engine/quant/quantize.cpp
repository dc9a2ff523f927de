#include "engine/quant/quantize.hpp"

#include <algorithm>
#include <cmath>

#include "engine/quant/block_types.hpp"
#include "engine/quant/dequantize.hpp"
#include "engine/quant/fp16.hpp"

namespace llmd::quant {

using gguf::GgmlType;

namespace {

int nearest_int(float x) { return static_cast<int>(std::lrintf(x)); }

void q_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::clamp(nearest_int(x[j] * id), -127, 127));
  }
}

void q_q4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    // The value of largest magnitude maps to -8 so the full range [-8, 7] is used.
    float vmax = 0.0f;
    for (int j = 0; j < kQK4_0; ++j)
      if (std::fabs(x[j]) > std::fabs(vmax)) vmax = x[j];
    const float d = vmax / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = std::clamp(nearest_int(x[j] * id) + 8, 0, 15);
      const int q1 = std::clamp(nearest_int(x[j + kQK4_0 / 2] * id) + 8, 0, 15);
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// Packs eight 6-bit scales and mins into the 12-byte layout read by kquant_scale_min.
void pack_scale_min(const uint8_t sc[8], const uint8_t m[8], uint8_t out[12]) {
  for (int j = 0; j < 12; ++j) out[j] = 0;
  for (int j = 0; j < 4; ++j) {
    out[j] = sc[j] & 63;
    out[j + 4] = m[j] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    out[j + 4] = static_cast<uint8_t>((sc[j] & 0x0f) | ((m[j] & 0x0f) << 4));
    out[j - 4] = static_cast<uint8_t>(out[j - 4] | ((sc[j] >> 4) << 6));
    out[j] = static_cast<uint8_t>(out[j] | ((m[j] >> 4) << 6));
  }
}

// Shared scale/min search of q4_K and q5_K: each sub-block of 32 gets an
// affine grid [min, max] with `levels` steps; scales and mins are then
// quantized to 6 bits against the super-block's d and dmin. Outputs the
// integer levels q[256].
void kquant_affine(const float* x, int levels, uint16_t* d_out, uint16_t* dmin_out, uint8_t scales[12],
                   uint8_t q[kQK_K]) {
  float sub_scale[8], sub_min[8];
  for (int j = 0; j < 8; ++j) {
    float lo = x[32 * j], hi = x[32 * j];
    for (int l = 1; l < 32; ++l) {
      lo = std::min(lo, x[32 * j + l]);
      hi = std::max(hi, x[32 * j + l]);
    }
    lo = std::min(lo, 0.0f);  // the grid's offset is subtracted: min >= 0
    sub_scale[j] = (hi - lo) / static_cast<float>(levels);
    sub_min[j] = -lo;
  }
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    max_scale = std::max(max_scale, sub_scale[j]);
    max_min = std::max(max_min, sub_min[j]);
  }
  const float d = f16_to_f32(f32_to_f16(max_scale / 63.0f));
  const float dmin = f16_to_f32(f32_to_f16(max_min / 63.0f));
  *d_out = f32_to_f16(d);
  *dmin_out = f32_to_f16(dmin);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(d > 0.0f ? std::clamp(nearest_int(sub_scale[j] / d), 0, 63) : 0);
    m[j] = static_cast<uint8_t>(dmin > 0.0f ? std::clamp(nearest_int(sub_min[j] / dmin), 0, 63) : 0);
    const float step = d * sc[j];
    const float offset = dmin * m[j];
    for (int l = 0; l < 32; ++l) {
      const int v = step > 0.0f ? nearest_int((x[32 * j + l] + offset) / step) : 0;
      q[32 * j + l] = static_cast<uint8_t>(std::clamp(v, 0, levels));
    }
  }
  pack_scale_min(sc, m, scales);
}

void q_q4_K(const float* x, BlockQ4_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    uint8_t q[kQK_K];
    kquant_affine(x, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[i].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

void q_q5_K(const float* x, BlockQ5_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    uint8_t q[kQK_K];
    kquant_affine(x, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
    for (int l = 0; l < 32; ++l) b[i].qh[l] = 0;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int q0 = q[64 * c + l], q1 = q[64 * c + 32 + l];
        b[i].qs[32 * c + l] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
        b[i].qh[l] = static_cast<uint8_t>(b[i].qh[l] | ((q0 >> 4) << (2 * c)) | ((q1 >> 4) << (2 * c + 1)));
      }
    }
  }
}

void q_q6_K(const float* x, BlockQ6_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float sub_scale[16];
    float max_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      float amax = 0.0f;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
      sub_scale[j] = amax / 31.0f;
      max_scale = std::max(max_scale, sub_scale[j]);
    }
    const float d = f16_to_f32(f32_to_f16(max_scale / 127.0f));
    b[i].d = f32_to_f16(d);
    int q[kQK_K];
    for (int j = 0; j < 16; ++j) {
      const int sc = d > 0.0f ? std::clamp(nearest_int(sub_scale[j] / d), -128, 127) : 0;
      b[i].scales[j] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);
      for (int l = 0; l < 16; ++l) {
        const int v = step != 0.0f ? nearest_int(x[16 * j + l] / step) : 0;
        q[16 * j + l] = std::clamp(v, -32, 31) + 32;
      }
    }
    for (int n = 0; n < 2; ++n) {
      const int* qq = q + 128 * n;
      uint8_t* ql = b[i].ql + 64 * n;
      uint8_t* qh = b[i].qh + 32 * n;
      for (int l = 0; l < 32; ++l) {
        const int q0 = qq[l], q1 = qq[l + 32], q2 = qq[l + 64], q3 = qq[l + 96];
        ql[l] = static_cast<uint8_t>((q0 & 0x0f) | ((q2 & 0x0f) << 4));
        ql[l + 32] = static_cast<uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
        qh[l] = static_cast<uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
      }
    }
  }
}

}  // namespace

bool quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  const int be = block_elems(type);
  if (be == 0 || n < 0 || n % be != 0) return false;
  const int64_t nb = n / be;
  switch (type) {
    case GgmlType::F32: {
      float* d = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = src[i];
      return true;
    }
    case GgmlType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return true;
    }
    case GgmlType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return true;
    }
    case GgmlType::Q8_0: q_q8_0(src, static_cast<BlockQ8_0*>(dst), nb); return true;
    case GgmlType::Q4_0: q_q4_0(src, static_cast<BlockQ4_0*>(dst), nb); return true;
    case GgmlType::Q4_K: q_q4_K(src, static_cast<BlockQ4_K*>(dst), nb); return true;
    case GgmlType::Q5_K: q_q5_K(src, static_cast<BlockQ5_K*>(dst), nb); return true;
    case GgmlType::Q6_K: q_q6_K(src, static_cast<BlockQ6_K*>(dst), nb); return true;
    default: return false;
  }
}

}  // namespace llmd::quant
