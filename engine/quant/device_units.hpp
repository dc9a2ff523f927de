// A row of a quantized matrix in the device layout (device_layout.hpp) read in
// units: where a unit's bytes lie and what they decode to. The same functions
// run in the CUDA GEMV kernels (gemv_quant.cu) and on the host, where a test
// checks them against dequantize_device_row bit for bit; nothing here is
// specific to either side but the loads, which the caller supplies.
//
// A unit is 32 weights (q8_0, q4_0: one block) or 64 (q4_K, q5_K: one 32-byte
// chunk of a super-block's qs, the two sub-blocks it holds; q6_K: a quarter of
// a super-block sharing one 16-byte piece of qh). Its loaded bytes decode, one
// group at a time (what a kernel holds in registers at once), into groups of
// 16 consecutive weights of the row, each with one scale and one min:
//
//   weight = scale * q - min         (q an integer, min zero for q8_0/q4_0/q6_K)
//
// with the scale and min formed as the file's dequantization forms them (q4_K:
// d * sc and dmin * m; q6_K: q already multiplied by its int8 sub-block scale,
// scale = d), so that a weight comes out as dequantize_row's.
//
// Every load is aligned to its size when the matrix's base is 16-byte aligned:
// 16-byte loads of values and K-quant blocks, 8 bytes of q6_K scales, 2 of d.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/quant/device_layout.hpp"
#include "engine/quant/fp16.hpp"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define LLMD_QUANT_HD __host__ __device__ __forceinline__
#else
#define LLMD_QUANT_HD inline
#endif
// Unrolled in device code (constant indices keep the arrays in registers);
// the host compilers have their own spelling and need no hint.
#if defined(__CUDA_ARCH__)
#define LLMD_QUANT_UNROLL _Pragma("unroll")
#else
#define LLMD_QUANT_UNROLL
#endif

namespace llmd::quant {

// Byte offsets of a layout's planes from the matrix's base; the planes a type
// lacks stay zero. For q4_K/q5_K `qs` is the plane of whole blocks.
struct PlaneOffsets {
  uint64_t qs = 0;      // q8_0/q4_0 qs, q6_K ql, q4_K/q5_K blocks
  uint64_t qh = 0;      // q6_K qh
  uint64_t scales = 0;  // q6_K scales
  uint64_t d = 0;       // q8_0/q4_0/q6_K d
};

inline PlaneOffsets plane_offsets(const DeviceLayout& l) {
  PlaneOffsets p;
  for (const Plane& pl : l.planes) {
    if (pl.field == "qs" || pl.field == "ql" || pl.field == "blocks") p.qs = pl.offset;
    if (pl.field == "qh") p.qh = pl.offset;
    if (pl.field == "scales") p.scales = pl.offset;
    if (pl.field == "d") p.d = pl.offset;
  }
  return p;
}

struct DecodedGroup {
  float q[16];  // integer values
  float scale;
  float min;  // zero for types without mins
};

// A half float's bits as a float: exact on both sides.
LLMD_QUANT_HD float half_bits(uint32_t h) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
#else
  return f16_to_f32(static_cast<uint16_t>(h));
#endif
}

// A float from its bits.
LLMD_QUANT_HD float float_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  return f32_from_bits(u);
#endif
}

// (float)(u - bias) for u, bias < 2^23, through the float's bit pattern: 2^23
// + u, less 2^23 + bias, both exact. A logic op and an add at full rate on
// the device, where integer-to-float conversion runs at a quarter of it and
// would bound a 4-bit GEMV; the host computes it the same way.
LLMD_QUANT_HD float small_int(uint32_t u, uint32_t bias) {
  return float_bits(0x4B000000u | u) - (8388608.0f + static_cast<float>(bias));
}

// Byte j of a little-endian array of 32-bit words.
LLMD_QUANT_HD uint32_t byte_of(const uint32_t* w, int j) { return (w[j >> 2] >> (8 * (j & 3))) & 0xffu; }

// The 6-bit scale and min of sub-block j (0..7) of a q4_K/q5_K super-block
// whose 12 scale bytes are the words s0, s1, s2 (bytes 4..15 of the block),
// with shifts instead of indexing (j is known only at run time on the device).
// Sub-blocks 0..3 keep theirs in the low 6 bits of bytes j and j + 4; 4..7 keep
// the low 4 bits in byte j + 4 and the top 2 in the top bits of bytes j - 4 / j.
LLMD_QUANT_HD void kquant_scale_min_words(int j, uint32_t s0, uint32_t s1, uint32_t s2, uint32_t* sc, uint32_t* m) {
  const int sh = 8 * (j & 3);
  if (j < 4) {
    *sc = (s0 >> sh) & 63u;
    *m = (s1 >> sh) & 63u;
  } else {
    *sc = ((s2 >> sh) & 0x0fu) | (((s0 >> (sh + 6)) & 3u) << 4);
    *m = ((s2 >> (sh + 4)) & 0x0fu) | (((s1 >> (sh + 6)) & 3u) << 4);
  }
}

// The weight a decoded group gives: dequantize_row's value.
template <bool kHasMin>
LLMD_QUANT_HD float unit_weight(float scale, float q, float min) {
  return kHasMin ? scale * q - min : scale * q;
}

// Readies a decoded group for its dot products with every token. Types with
// mins get their weights (scale * q - min, one operation per weight) in q and
// a scale of 1: cheaper than subtracting min * sum(x) for each token. Others
// keep q and their scale, applied once per 16 products.
template <bool kHasMin>
LLMD_QUANT_HD void prepare_group(DecodedGroup& d) {
  if constexpr (kHasMin) {
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) d.q[j] = unit_weight<true>(d.scale, d.q[j], d.min);
    d.scale = 1.0f;
    d.min = 0.0f;
  }
}

// A prepared group's share of a dot product, scale * (q . x), for the 16
// activations x of its weights.
LLMD_QUANT_HD float group_dot(const DecodedGroup& d, const float (&x)[16]) {
  float s = 0.0f;
  LLMD_QUANT_UNROLL
  for (int j = 0; j < 16; ++j) s = fmaf(d.q[j], x[j], s);
  return d.scale * s;
}

// Each unit type below has:
//   kWeights, kGroups, kHasMin, kBlockWeights
//   Bytes                              what the unit's loads fill
//   units_per_row(k)
//   group_offset(u, g)                 first weight of group g of unit u in its row
//   fetch<Load>(w, planes, row, k, u, bytes)
//   decode(bytes, u, g, group)         group g (0 .. kGroups - 1, a constant in kernels)
// and its groups go through prepare_group<kHasMin> before group_dot.
// Load supplies load16(p, uint32_t[4]), load8(p, uint32_t[2]) and
// load2(p) -> uint32_t, each at an address aligned to its size.

struct UnitQ8_0 {
  static constexpr int kWeights = 32, kGroups = 2, kBlockWeights = 32;
  static constexpr bool kHasMin = false;
  struct Bytes {
    uint32_t qs[8];
    uint32_t d;
  };
  LLMD_QUANT_HD static int64_t units_per_row(int64_t k) { return k / 32; }
  LLMD_QUANT_HD static int64_t group_offset(int64_t u, int g) { return 32 * u + 16 * g; }
  template <class Load>
  LLMD_QUANT_HD static void fetch(const uint8_t* w, const PlaneOffsets& p, int64_t row, int64_t k, int64_t u, Bytes& b) {
    const uint64_t i = static_cast<uint64_t>(row * (k / 32) + u);
    Load::load16(w + p.qs + i * 32, b.qs);
    Load::load16(w + p.qs + i * 32 + 16, b.qs + 4);
    b.d = Load::load2(w + p.d + i * 2);
  }
  LLMD_QUANT_HD static void decode(const Bytes& b, int64_t, int g, DecodedGroup& o) {
    o.scale = half_bits(b.d);
    o.min = 0.0f;
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) o.q[j] = small_int(byte_of(b.qs, 16 * g + j) ^ 0x80u, 128);  // int8
  }
};

// Byte j of qs holds weight j (low nibble) and j + 16 (high): group 0 is the
// low nibbles, group 1 the high.
struct UnitQ4_0 {
  static constexpr int kWeights = 32, kGroups = 2, kBlockWeights = 32;
  static constexpr bool kHasMin = false;
  struct Bytes {
    uint32_t qs[4];
    uint32_t d;
  };
  LLMD_QUANT_HD static int64_t units_per_row(int64_t k) { return k / 32; }
  LLMD_QUANT_HD static int64_t group_offset(int64_t u, int g) { return 32 * u + 16 * g; }
  template <class Load>
  LLMD_QUANT_HD static void fetch(const uint8_t* w, const PlaneOffsets& p, int64_t row, int64_t k, int64_t u, Bytes& b) {
    const uint64_t i = static_cast<uint64_t>(row * (k / 32) + u);
    Load::load16(w + p.qs + i * 16, b.qs);
    b.d = Load::load2(w + p.d + i * 2);
  }
  LLMD_QUANT_HD static void decode(const Bytes& b, int64_t, int g, DecodedGroup& o) {
    o.scale = half_bits(b.d);
    o.min = 0.0f;
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) o.q[j] = small_int((byte_of(b.qs, j) >> (4 * g)) & 0x0fu, 8);
  }
};

// q4_K and q5_K: unit u is chunk c = u % 4 of super-block u / 4, weights
// 64c .. 64c + 63: sub-block 2c in the low nibbles of its 32 qs bytes (groups
// 0, 1), sub-block 2c + 1 in the high nibbles (groups 2, 3). Both read the
// block's first 16 bytes (d, dmin, scales) with one load.
template <bool kFifthBit>
struct UnitKQuant {
  static constexpr int kWeights = 64, kGroups = 4, kBlockWeights = 256;
  static constexpr bool kHasMin = true;
  static constexpr uint64_t kBlockBytes = kFifthBit ? 176 : 144;
  static constexpr uint64_t kQsAt = kFifthBit ? 48 : 16;
  struct Bytes {
    uint32_t head[4];  // d | dmin << 16, then the 12 scale bytes
    uint32_t qs[8];
    uint32_t qh[kFifthBit ? 8 : 1];
  };
  LLMD_QUANT_HD static int64_t units_per_row(int64_t k) { return k / 64; }
  LLMD_QUANT_HD static int64_t group_offset(int64_t u, int g) { return 64 * u + 16 * g; }
  template <class Load>
  LLMD_QUANT_HD static void fetch(const uint8_t* w, const PlaneOffsets& p, int64_t row, int64_t k, int64_t u, Bytes& b) {
    const uint64_t i = static_cast<uint64_t>(row * (k / 256) + u / 4);
    const uint8_t* blk = w + p.qs + i * kBlockBytes;
    Load::load16(blk, b.head);
    const uint8_t* qs = blk + kQsAt + 32 * static_cast<uint64_t>(u % 4);
    Load::load16(qs, b.qs);
    Load::load16(qs + 16, b.qs + 4);
    if constexpr (kFifthBit) {
      Load::load16(blk + 16, b.qh);
      Load::load16(blk + 32, b.qh + 4);
    } else {
      b.qh[0] = 0;
    }
  }
  LLMD_QUANT_HD static void decode(const Bytes& b, int64_t u, int g, DecodedGroup& o) {
    const int c = static_cast<int>(u % 4);
    const int h = g >> 1;  // sub-block 2c + h: low (h = 0) or high nibbles
    uint32_t sc, m;
    kquant_scale_min_words(2 * c + h, b.head[1], b.head[2], b.head[3], &sc, &m);
    o.scale = half_bits(b.head[0] & 0xffffu) * static_cast<float>(sc);
    o.min = half_bits(b.head[0] >> 16) * static_cast<float>(m);
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) {
      const int l = 16 * (g & 1) + j;  // qs byte: the first or second 16 of the chunk's 32
      uint32_t q = (byte_of(b.qs, l) >> (4 * h)) & 0x0fu;
      if constexpr (kFifthBit) q |= ((byte_of(b.qh, l) >> (2 * c + h)) & 1u) << 4;
      o.q[j] = small_int(q, 0);
    }
  }
};
using UnitQ4_K = UnitKQuant<false>;
using UnitQ5_K = UnitKQuant<true>;

// q6_K: unit u is quarter (n, h) = ((u / 2) % 2, u % 2) of super-block u / 4:
// for l = 16h .. 16h + 15, the weights 128n + l + {0, 32, 64, 96} (groups 0..3),
// whose low 4 bits are ql[64n + l] and ql[64n + 32 + l] (low, then high
// nibbles), high 2 bits qh[32n + l] (bits 0-1, 2-3, 4-5, 6-7), and sub-block
// scales scales[8n + h + {0, 2, 4, 6}].
struct UnitQ6_K {
  static constexpr int kWeights = 64, kGroups = 4, kBlockWeights = 256;
  static constexpr bool kHasMin = false;
  struct Bytes {
    uint32_t ql_lo[4];  // ql[64n + 16h ..]
    uint32_t ql_hi[4];  // ql[64n + 32 + 16h ..]
    uint32_t qh[4];     // qh[32n + 16h ..]
    uint32_t sc[2];     // scales[8n .. 8n + 7]
    uint32_t d;
  };
  LLMD_QUANT_HD static int64_t units_per_row(int64_t k) { return k / 64; }
  LLMD_QUANT_HD static int64_t group_offset(int64_t u, int g) {
    return 256 * (u / 4) + 128 * ((u / 2) % 2) + 16 * (u % 2) + 32 * g;
  }
  template <class Load>
  LLMD_QUANT_HD static void fetch(const uint8_t* w, const PlaneOffsets& p, int64_t row, int64_t k, int64_t u, Bytes& b) {
    const uint64_t i = static_cast<uint64_t>(row * (k / 256) + u / 4);
    const uint64_t n = static_cast<uint64_t>((u / 2) % 2), h = static_cast<uint64_t>(u % 2);
    const uint8_t* ql = w + p.qs + i * 128 + 64 * n + 16 * h;
    Load::load16(ql, b.ql_lo);
    Load::load16(ql + 32, b.ql_hi);
    Load::load16(w + p.qh + i * 64 + 32 * n + 16 * h, b.qh);
    Load::load8(w + p.scales + i * 16 + 8 * n, b.sc);
    b.d = Load::load2(w + p.d + i * 2);
  }
  LLMD_QUANT_HD static void decode(const Bytes& b, int64_t u, int g, DecodedGroup& o) {
    const int h = static_cast<int>(u % 2);
    // scales[h + 2g]: word g / 2, byte h + 2 (g % 2).
    const uint32_t sc_byte = (b.sc[g >> 1] >> (8 * (h + 2 * (g & 1)))) & 0xffu;
    const float sc = small_int(sc_byte ^ 0x80u, 128);  // int8
    const uint32_t* ql = (g & 1) ? b.ql_hi : b.ql_lo;
    o.scale = half_bits(b.d);
    o.min = 0.0f;
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) {
      const uint32_t q = ((byte_of(ql, j) >> (4 * (g >> 1))) & 0x0fu) | (((byte_of(b.qh, j) >> (2 * g)) & 3u) << 4);
      // Exact (|sc * (q - 32)| <= 4096); + 0 turns a -0 product into the +0
      // that the file's integer product gives, so that d * q keeps its sign.
      o.q[j] = small_int(q, 32) * sc + 0.0f;
    }
  }
};

// What one of `lanes` lanes adds to the products of row `row` with NT tokens'
// activations: units lane, lane + lanes, ..., each group decoded, readied and
// dotted with every token's 16 activations. A GEMV's warp runs it in each of
// its 32 lanes and sums their acc. load_x(t, i, xs) fills xs with activations
// i .. i + 15 of token t.
template <class U, int NT, class Load, class LoadX>
LLMD_QUANT_HD void lane_dots(const uint8_t* w, const PlaneOffsets& p, int64_t row, int64_t k, int lane, int lanes,
                             const LoadX& load_x, float (&acc)[NT]) {
  const int64_t n_units = U::units_per_row(k);
  for (int64_t u = lane; u < n_units; u += lanes) {
    typename U::Bytes b;
    U::template fetch<Load>(w, p, row, k, u, b);
    LLMD_QUANT_UNROLL
    for (int g = 0; g < U::kGroups; ++g) {
      DecodedGroup d;
      U::decode(b, u, g, d);
      prepare_group<U::kHasMin>(d);
      const int64_t at = U::group_offset(u, g);
      LLMD_QUANT_UNROLL
      for (int t = 0; t < NT; ++t) {
        float xs[16];
        load_x(t, at, xs);
        acc[t] += group_dot(d, xs);
      }
    }
  }
}

// The activations of a product with its RMSNorm folded in, for lane_dots:
// token t's values x[t][i .. i + 15] * norm_w[i .. i + 15] from the f32
// residual x ([n][k], 16-byte aligned rows) and the norm's weights, each
// value's square added to ss[t] when ss is set. A row's units cover every
// column once, so the lanes' ss summed give the row's sum of squares, and
// W (x * norm_w) / rms = (W (x * norm_w)) * rms_scale(ss, k, eps).
template <class Load>
struct NormedX {
  const float* x;
  const float* norm_w;
  int64_t k;
  float* ss;
  LLMD_QUANT_HD void operator()(int t, int64_t i, float (&xs)[16]) const {
    const uint8_t* xp = reinterpret_cast<const uint8_t*>(x + t * k + i);
    const uint8_t* wp = reinterpret_cast<const uint8_t*>(norm_w + i);
    uint32_t xv[16], wv[16];
    LLMD_QUANT_UNROLL
    for (int q = 0; q < 4; ++q) {
      Load::load16(xp + 16 * q, xv + 4 * q);
      Load::load16(wp + 16 * q, wv + 4 * q);
    }
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) {
      const float v = float_bits(xv[j]);
      if (ss) ss[t] = fmaf(v, v, ss[t]);
      xs[j] = v * float_bits(wv[j]);
    }
  }
};

// The RMSNorm's factor for a row of k values whose squares sum to ss: the
// RMSNorm kernel's expression.
LLMD_QUANT_HD float rms_scale(float ss, int64_t k, float eps) {
  return 1.0f / sqrtf(ss / static_cast<float>(k) + eps);
}

// Unit u of row `row` dequantized: out(i, w) for each of its weights, i the
// weight's column in the row and w its value as dequantize_device_row gives
// it. What the CUDA kernels that copy quantized rows into dense ones run per
// unit (the prefill path's scratch matrix, the embedding's gather).
template <class U, class Load, class Out>
LLMD_QUANT_HD void dequantize_unit(const uint8_t* w, const PlaneOffsets& p, int64_t row, int64_t k, int64_t u,
                                   Out&& out) {
  typename U::Bytes b;
  U::template fetch<Load>(w, p, row, k, u, b);
  LLMD_QUANT_UNROLL
  for (int g = 0; g < U::kGroups; ++g) {
    DecodedGroup d;
    U::decode(b, u, g, d);
    const int64_t at = U::group_offset(u, g);
    LLMD_QUANT_UNROLL
    for (int j = 0; j < 16; ++j) out(at + j, unit_weight<U::kHasMin>(d.scale, d.q[j], d.min));
  }
}

// f(Unit{}) for the unit type of `type`; `otherwise` for types without one.
template <class R, class F>
R with_unit_type(gguf::GgmlType type, R otherwise, F&& f) {
  switch (type) {
    case gguf::GgmlType::Q8_0: return f(UnitQ8_0{});
    case gguf::GgmlType::Q4_0: return f(UnitQ4_0{});
    case gguf::GgmlType::Q4_K: return f(UnitQ4_K{});
    case gguf::GgmlType::Q5_K: return f(UnitQ5_K{});
    case gguf::GgmlType::Q6_K: return f(UnitQ6_K{});
    default: return otherwise;
  }
}

}  // namespace llmd::quant

#undef LLMD_QUANT_HD
#undef LLMD_QUANT_UNROLL
