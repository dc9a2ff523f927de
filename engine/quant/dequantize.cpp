#include "engine/quant/dequantize.hpp"

#include "engine/quant/block_types.hpp"
#include "engine/quant/fp16.hpp"

namespace llmd::quant {

using gguf::GgmlType;

namespace {

void dq_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void dq_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((b[i].qs[j] & 0x0f) - 8);
      y[j + kQK4_0 / 2] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void dq_q4_K(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int c = 0; c < 4; ++c, q += 32, y += 64) {
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * c, b[i].scales, &sc0, &m0);
      kquant_scale_min(2 * c + 1, b[i].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0;
      const float d1 = d * sc1, min1 = dmin * m1;
      for (int l = 0; l < 32; ++l) {
        y[l] = d0 * static_cast<float>(q[l] & 0x0f) - min0;
        y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - min1;
      }
    }
  }
}

void dq_q5_K(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int c = 0; c < 4; ++c, q += 32, y += 64) {
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * c, b[i].scales, &sc0, &m0);
      kquant_scale_min(2 * c + 1, b[i].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0;
      const float d1 = d * sc1, min1 = dmin * m1;
      const uint8_t bit0 = static_cast<uint8_t>(1u << (2 * c));
      const uint8_t bit1 = static_cast<uint8_t>(2u << (2 * c));
      for (int l = 0; l < 32; ++l) {
        const int q0 = (q[l] & 0x0f) + ((b[i].qh[l] & bit0) ? 16 : 0);
        const int q1 = (q[l] >> 4) + ((b[i].qh[l] & bit1) ? 16 : 0);
        y[l] = d0 * static_cast<float>(q0) - min0;
        y[l + 32] = d1 * static_cast<float>(q1) - min1;
      }
    }
  }
}

void dq_q6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int n = 0; n < 2; ++n, y += 128) {
      const uint8_t* ql = b[i].ql + 64 * n;
      const uint8_t* qh = b[i].qh + 32 * n;
      const int8_t* sc = b[i].scales + 8 * n;
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q0 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[s + 0] * q0);
        y[l + 32] = d * static_cast<float>(sc[s + 2] * q1);
        y[l + 64] = d * static_cast<float>(sc[s + 4] * q2);
        y[l + 96] = d * static_cast<float>(sc[s + 6] * q3);
      }
    }
  }
}

}  // namespace

bool is_supported_weight_type(GgmlType type) { return block_elems(type) != 0; }

int block_elems(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
      return 1;
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
      return 32;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return kQK_K;
    default:
      return 0;
  }
}

bool dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const int be = block_elems(type);
  if (be == 0 || n < 0 || n % be != 0) return false;
  const int64_t nb = n / be;
  switch (type) {
    case GgmlType::F32: {
      const float* s = static_cast<const float*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
      return true;
    }
    case GgmlType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return true;
    }
    case GgmlType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return true;
    }
    case GgmlType::Q8_0: dq_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb); return true;
    case GgmlType::Q4_0: dq_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb); return true;
    case GgmlType::Q4_K: dq_q4_K(static_cast<const BlockQ4_K*>(src), dst, nb); return true;
    case GgmlType::Q5_K: dq_q5_K(static_cast<const BlockQ5_K*>(src), dst, nb); return true;
    case GgmlType::Q6_K: dq_q6_K(static_cast<const BlockQ6_K*>(src), dst, nb); return true;
    default: return false;
  }
}

}  // namespace llmd::quant
