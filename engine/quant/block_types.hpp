// Byte layouts of the quantized GGUF block types the engine computes with.
// Scales ("d", "dmin") are IEEE half floats stored as raw uint16_t bits.
//
//   q8_0: 32 weights  = d * q,             q int8
//   q4_0: 32 weights  = d * (q - 8),       q 4-bit; byte j holds weight j (low nibble) and j + 16 (high)
//   q4_K: 256 weights in 8 sub-blocks of 32: w = d * sc[j] * q - dmin * m[j], q 4-bit, sc/m 6-bit
//   q5_K: as q4_K with a fifth bit per weight in qh
//   q6_K: 256 weights in 16 sub-blocks of 16: w = d * sc[j] * (q - 32), q 6-bit, sc int8
#pragma once

#include <cstdint>

namespace llmd::quant {

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;
constexpr int kQK_K = 256;  // super-block size of the K-quants

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// scales[12] packs eight 6-bit scales and eight 6-bit mins (see kquant_scale_min).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];  // 4 chunks of 64 weights: 32 bytes, low nibbles first 32, high nibbles next 32
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];  // bit 2c of qh[l] is the fifth bit of weight 64c + l, bit 2c+1 of weight 64c + 32 + l
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Two halves of 128 weights; in half n, for l < 32:
//   weight l      low 4 bits ql[64n + l] & 15,       high 2 bits (qh[32n + l] >> 0) & 3
//   weight l + 32 low 4 bits ql[64n + 32 + l] & 15,  high 2 bits (qh[32n + l] >> 2) & 3
//   weight l + 64 low 4 bits ql[64n + l] >> 4,       high 2 bits (qh[32n + l] >> 4) & 3
//   weight l + 96 low 4 bits ql[64n + 32 + l] >> 4,  high 2 bits (qh[32n + l] >> 6) & 3
// scales[i] applies to weights 16i .. 16i + 15.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The 6-bit scale and min of sub-block j (0..7) of a q4_K / q5_K super-block.
// Sub-blocks 0..3 keep theirs in the low 6 bits of bytes j and j + 4; 4..7 keep
// the low 4 bits in byte j + 4 and the top 2 bits in the top bits of bytes j - 4 / j.
inline void kquant_scale_min(int j, const uint8_t* s, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace llmd::quant
