// AVX-512 kernels (F, BW, VL, DQ, VNNI). Compiled with AVX-512 flags and used
// only when cpu_features detects them. Everything here has internal linkage
// except kernel_table_avx512(); see kernels.hpp for the layouts. Attention is
// in kernels_avx512_attention.cpp, the shared vector helpers in simd_avx512.hpp.
//
// Int formats use VPDPBUSD: each 32-bit lane (one weight row) accumulates
// u8 weight levels x s8 activations over 4 inputs per instruction; the
// "-128 * sum(x)" correction of the offset levels seeds the accumulator.
#include "engine/cpu/kernels.hpp"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512VNNI__)

#include <cmath>
#include <cstring>
#include <utility>

#include "engine/cpu/simd_avx512.hpp"

namespace llmd::engine::cpu {
namespace {

// ----------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ----------------------------------------------------------------------------
// GEMM over packed weights
// ----------------------------------------------------------------------------

// Decode-shaped tiles (few activation rows) are bound by memory bandwidth;
// prefetching each weight stream this far ahead into L2 keeps more requests in
// flight than the hardware prefetcher alone.
constexpr int kPrefetchCols = 2;
constexpr int64_t kPrefetchAhead = 8192;

template <PackFormat F>
inline __m512 load_w16(const uint8_t* p) {
  if constexpr (F == PackFormat::f32) {
    return _mm512_load_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (F == PackFormat::f16) {
    return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
}

inline void store_out(float* y, __m512 v, int64_t lanes, bool accumulate) {
  const __mmask16 m = lane_mask(lanes);
  if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
  store16(y, v, m);
}

// RG consecutive row groups starting at g, NC activation rows starting at c.
template <PackFormat F, int RG, int NC>
void float_tile(const GemmTask& t, int64_t g, int64_t c) {
  const PackedView& w = *t.w;
  constexpr int64_t elt = F == PackFormat::f32 ? 4 : 2;
  const uint8_t* gp[RG];
  for (int r = 0; r < RG; ++r) gp[r] = w.data + static_cast<uint64_t>(g + r) * w.group_bytes;
  const float* xp[NC];
  for (int j = 0; j < NC; ++j) xp[j] = t.x + (c + j) * t.x_stride;
  __m512 acc[RG][NC];
#pragma GCC unroll 32
  for (int r = 0; r < RG; ++r)
#pragma GCC unroll 32
    for (int j = 0; j < NC; ++j) acc[r][j] = _mm512_setzero_ps();
  const int64_t K = w.cols;
  for (int64_t k = 0; k < K; ++k) {
    if constexpr (NC <= kPrefetchCols) {
      // One line ahead per stream every 64 bytes of weights.
      if ((k * kRowGroup * elt) % 64 == 0) {
#pragma GCC unroll 32
        for (int r = 0; r < RG; ++r) _mm_prefetch(reinterpret_cast<const char*>(gp[r] + k * kRowGroup * elt + kPrefetchAhead), _MM_HINT_T1);
      }
    }
    __m512 wv[RG];
#pragma GCC unroll 32
    for (int r = 0; r < RG; ++r) wv[r] = load_w16<F>(gp[r] + k * kRowGroup * elt);
#pragma GCC unroll 32
    for (int j = 0; j < NC; ++j) {
      const __m512 xb = _mm512_set1_ps(xp[j][k]);
#pragma GCC unroll 32
      for (int r = 0; r < RG; ++r) acc[r][j] = _mm512_fmadd_ps(wv[r], xb, acc[r][j]);
    }
  }
  for (int r = 0; r < RG; ++r) {
    const int64_t lanes = w.rows - (g + r) * kRowGroup;
    for (int j = 0; j < NC; ++j) store_out(t.y + (c + j) * t.y_stride + (g + r) * kRowGroup, acc[r][j], lanes, t.accumulate);
  }
}

// Byte offset of 4-input chunk q of block b in a group's quants, and the
// chunk's 16 x 4 levels (u4 formats keep chunks 2p and 2p + 1 in the low and
// high nibbles of one 64-byte line).
template <PackFormat F, int BS>
constexpr int64_t chunk_offset(int64_t b, int q) {
  if (F == PackFormat::u4_b32_aff) return (b * (BS / 8) + q / 2) * 64;
  if (F == PackFormat::u5_b32_aff) return b * 5 * 64 + (q / 2) * 64;
  if (F == PackFormat::i6_b16) return b * 3 * 64 + (q / 2) * 64;
  return (b * (BS / 4) + q) * 64;
}

template <PackFormat F>
constexpr bool nibble_format() {
  return F == PackFormat::u4_b32_aff || F == PackFormat::u5_b32_aff || F == PackFormat::i6_b16;
}

template <PackFormat F, int BS>
inline __m512i load_chunk(const uint8_t* group, int64_t b, int q) {
  const __m512i v = _mm512_load_si512(reinterpret_cast<const __m512i*>(group + chunk_offset<F, BS>(b, q)));
  if constexpr (nibble_format<F>()) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512i u = q % 2 == 0 ? _mm512_and_si512(v, low4) : _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    if constexpr (F == PackFormat::i6_b16) {
      // Bits 2q, 2q+1 of each byte of the block's third line, moved to bits 4, 5.
      const __m512i h = _mm512_load_si512(reinterpret_cast<const __m512i*>(group + b * 3 * 64 + 128));
      const __m512i moved = q <= 2 ? _mm512_slli_epi16(h, 4 - 2 * q) : _mm512_srli_epi16(h, 2 * q - 4);
      u = _mm512_or_si512(u, _mm512_and_si512(moved, _mm512_set1_epi8(0x30)));
    }
    if constexpr (F == PackFormat::u5_b32_aff) {
      // Bit q of each byte of the block's fifth line, moved to bit 4.
      const __m512i h = _mm512_load_si512(reinterpret_cast<const __m512i*>(group + b * 5 * 64 + 256));
      const __m512i moved = q <= 4 ? _mm512_slli_epi16(h, 4 - q) : _mm512_srli_epi16(h, q - 4);
      u = _mm512_or_si512(u, _mm512_and_si512(moved, _mm512_set1_epi8(0x10)));
    }
    return u;
  } else {
    return v;
  }
}

// Two passes per 4-input chunk (activation levels q and r) share each weight
// load: hi += u * q, lo += u * r; a block's integer dot is 256 * hi + lo.
template <PackFormat F, int RG, int NC>
void int_tile(const GemmTask& t, int64_t g, int64_t c) {
  const PackedView& w = *t.w;
  const ActQ8& a = *t.xq;
  constexpr int BS = F == PackFormat::i6_b16 ? 16 : 32;
  constexpr bool AFF = F == PackFormat::u4_b32_aff || F == PackFormat::u5_b32_aff;
  const uint8_t* gp[RG];
  for (int r = 0; r < RG; ++r) gp[r] = w.data + static_cast<uint64_t>(g + r) * w.group_bytes;
  const int8_t* xq[NC];
  const int8_t* xr[NC];
  const float* xd[NC];
  const int32_t* corr[NC];
  const float* qsum[NC];
  for (int j = 0; j < NC; ++j) {
    xq[j] = a.q + (c + j) * a.q_stride;
    xr[j] = a.r + (c + j) * a.q_stride;
    xd[j] = a.d + (c + j) * a.d_stride;
    corr[j] = BS == 16 ? a.corr16 + (c + j) * a.corr16_stride : a.corr32 + (c + j) * a.corr32_stride;
    qsum[j] = a.qsum32 + (c + j) * a.d_stride;
  }
  __m512 acc[RG][NC];
#pragma GCC unroll 32
  for (int r = 0; r < RG; ++r)
#pragma GCC unroll 32
    for (int j = 0; j < NC; ++j) acc[r][j] = _mm512_setzero_ps();
  const int64_t nb = w.cols / BS;
  for (int64_t b = 0; b < nb; ++b) {
    __m512i hi[RG][NC], lo[RG][NC];
#pragma GCC unroll 32
    for (int j = 0; j < NC; ++j) {
      // Offset levels: -128 * sum(x) corrects u - 128 (i6: -32 * sum(x) for u - 32).
      const __m512i init = AFF ? _mm512_setzero_si512()
                               : _mm512_set1_epi32(F == PackFormat::i6_b16 ? corr[j][b] / 4 : corr[j][b]);
#pragma GCC unroll 32
      for (int r = 0; r < RG; ++r) {
        hi[r][j] = _mm512_setzero_si512();
        lo[r][j] = init;
      }
    }
    if constexpr (NC <= kPrefetchCols) {
#pragma GCC unroll 32
      for (int r = 0; r < RG; ++r) {
        // Scale bytes per block: f16 x 16 rows, int8 x 16 (i6), f32 x 16.
        constexpr int64_t kSb = F == PackFormat::i8_b32_f16 ? 32 : F == PackFormat::i6_b16 ? 16 : 64;
        if ((b * kSb) % 64 == 0)
          _mm_prefetch(reinterpret_cast<const char*>(gp[r] + w.scales_offset + b * kSb + kPrefetchAhead / 8), _MM_HINT_T1);
      }
    }
#pragma GCC unroll 8
    for (int q = 0; q < BS / 4; ++q) {
      __m512i wv[RG];
      if constexpr (NC <= kPrefetchCols) {
        if (!nibble_format<F>() || q % 2 == 0) {
#pragma GCC unroll 32
          for (int r = 0; r < RG; ++r)
            _mm_prefetch(reinterpret_cast<const char*>(gp[r] + chunk_offset<F, BS>(b, q) + kPrefetchAhead), _MM_HINT_T1);
        }
      }
#pragma GCC unroll 32
      for (int r = 0; r < RG; ++r) wv[r] = load_chunk<F, BS>(gp[r], b, q);
#pragma GCC unroll 32
      for (int j = 0; j < NC; ++j) {
        const __m512i xh = _mm512_set1_epi32(load_i32(xq[j] + b * BS + q * 4));
        const __m512i xl = _mm512_set1_epi32(load_i32(xr[j] + b * BS + q * 4));
#pragma GCC unroll 32
        for (int r = 0; r < RG; ++r) {
          hi[r][j] = _mm512_dpbusd_epi32(hi[r][j], wv[r], xh);
          lo[r][j] = _mm512_dpbusd_epi32(lo[r][j], wv[r], xl);
        }
      }
    }
    __m512 sc[RG];
#pragma GCC unroll 32
    for (int r = 0; r < RG; ++r) {
      if constexpr (F == PackFormat::i8_b32_f16) {
        sc[r] = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(gp[r] + w.scales_offset + b * 32)));
      } else if constexpr (F == PackFormat::i6_b16) {
        const __m512 d = _mm512_load_ps(reinterpret_cast<const float*>(gp[r] + w.mins_offset + (b / 16) * 64));
        const __m128i s8 = _mm_load_si128(reinterpret_cast<const __m128i*>(gp[r] + w.scales_offset + b * 16));
        sc[r] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(s8)));
      } else {
        sc[r] = _mm512_load_ps(reinterpret_cast<const float*>(gp[r] + w.scales_offset + b * 64));
      }
    }
#pragma GCC unroll 32
    for (int j = 0; j < NC; ++j) {
      const __m512 dx = _mm512_set1_ps(xd[j][b * BS / kActBlock] * (1.0f / 256.0f));
#pragma GCC unroll 32
      for (int r = 0; r < RG; ++r) {
        const __m512i isum = _mm512_add_epi32(_mm512_slli_epi32(hi[r][j], 8), lo[r][j]);
        acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(sc[r], dx), acc[r][j]);
      }
    }
    if constexpr (AFF) {
#pragma GCC unroll 32
      for (int r = 0; r < RG; ++r) {
        const __m512 mn = _mm512_load_ps(reinterpret_cast<const float*>(gp[r] + w.mins_offset + b * 64));
#pragma GCC unroll 32
        for (int j = 0; j < NC; ++j) acc[r][j] = _mm512_fmadd_ps(mn, _mm512_set1_ps(qsum[j][b]), acc[r][j]);
      }
    }
  }
  for (int r = 0; r < RG; ++r) {
    const int64_t lanes = w.rows - (g + r) * kRowGroup;
    for (int j = 0; j < NC; ++j) store_out(t.y + (c + j) * t.y_stride + (g + r) * kRowGroup, acc[r][j], lanes, t.accumulate);
  }
}

using TileFn = void (*)(const GemmTask&, int64_t, int64_t);

// Tile shapes: decode-like calls (few activation rows) take many row groups at
// once for memory parallelism; prefill calls take a wide column tile so each
// weight load feeds many FMAs / dot products.
constexpr int kFewCols = 3;
constexpr int kRgFew = 4;
constexpr int kRgMany = 2;
constexpr int kNcFloat = 8;
constexpr int kNcInt = 4;

template <PackFormat F, int RG, int NC>
constexpr TileFn tile_fn() {
  if constexpr (F == PackFormat::f32 || F == PackFormat::f16 || F == PackFormat::bf16)
    return &float_tile<F, RG, NC>;
  else
    return &int_tile<F, RG, NC>;
}

template <PackFormat F, int RG, int... NC>
constexpr void fill_row(TileFn* row, std::integer_sequence<int, NC...>) {
  ((row[NC] = tile_fn<F, RG, NC + 1>()), ...);
}

template <PackFormat F>
struct TileTable {
  static constexpr int kNc = (F == PackFormat::f32 || F == PackFormat::f16 || F == PackFormat::bf16) ? kNcFloat : kNcInt;
  static constexpr int kRg = kRgFew > kRgMany ? kRgFew : kRgMany;
  TileFn fn[kRg][kNcFloat > kNcInt ? kNcFloat : kNcInt] = {};
  template <int... RG>
  constexpr void fill(std::integer_sequence<int, RG...>) {
    ((fill_row<F, RG + 1>(fn[RG], std::make_integer_sequence<int, kNc>{})), ...);
  }
  constexpr TileTable() { fill(std::make_integer_sequence<int, kRg>{}); }
};

template <PackFormat F>
void gemm_format(const GemmTask& t) {
  static constexpr TileTable<F> table;
  const int64_t n = t.c1 - t.c0;
  const int rg_step = n <= kFewCols ? kRgFew : kRgMany;
  const int nc_step = TileTable<F>::kNc;
  for (int64_t g = t.g0; g < t.g1; g += rg_step) {
    const int rg = static_cast<int>(t.g1 - g < rg_step ? t.g1 - g : rg_step);
    for (int64_t c = t.c0; c < t.c1; c += nc_step) {
      const int nc = static_cast<int>(t.c1 - c < nc_step ? t.c1 - c : nc_step);
      table.fn[rg - 1][nc - 1](t, g, c);
    }
  }
}

void gemm(const GemmTask& t) {
  switch (t.w->format) {
    case PackFormat::f32: gemm_format<PackFormat::f32>(t); break;
    case PackFormat::f16: gemm_format<PackFormat::f16>(t); break;
    case PackFormat::bf16: gemm_format<PackFormat::bf16>(t); break;
    case PackFormat::i8_b32_f16: gemm_format<PackFormat::i8_b32_f16>(t); break;
    case PackFormat::i6_b16: gemm_format<PackFormat::i6_b16>(t); break;
    case PackFormat::u4_b32_aff: gemm_format<PackFormat::u4_b32_aff>(t); break;
    case PackFormat::u5_b32_aff: gemm_format<PackFormat::u5_b32_aff>(t); break;
  }
}

// ----------------------------------------------------------------------------
// Activation quantization
// ----------------------------------------------------------------------------

void quantize_row(const float* x, int64_t cols, int8_t* q, int8_t* r, float* d, int32_t* corr16, int32_t* corr32,
                  float* qsum32) {
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 k256 = _mm512_set1_ps(256.0f);
  const __m512 lim = _mm512_set1_ps(127.0f);
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int64_t b = 0; b < cols / kActBlock; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + b * 32);
    const __m512 x1 = _mm512_loadu_ps(x + b * 32 + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x0, sign), _mm512_and_ps(x1, sign)));
    const float scale = amax / 127.0f;
    const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    int32_t s[2], sq = 0, sr = 0;
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(h ? x1 : x0, inv);
      const __m512 hi = _mm512_roundscale_ps(v, kRound);
      __m512 lo = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_sub_ps(v, hi), k256), kRound);
      lo = _mm512_max_ps(_mm512_min_ps(lo, lim), _mm512_sub_ps(_mm512_setzero_ps(), lim));
      const __m512i qi = _mm512_cvtps_epi32(hi);
      const __m512i ri = _mm512_cvtps_epi32(lo);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * 32 + h * 16), _mm512_cvtsepi32_epi8(qi));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(r + b * 32 + h * 16), _mm512_cvtsepi32_epi8(ri));
      const int32_t a = _mm512_reduce_add_epi32(qi), c = _mm512_reduce_add_epi32(ri);
      s[h] = 256 * a + c;
      sq += a;
      sr += c;
    }
    d[b] = scale;
    corr16[2 * b] = -128 * s[0];
    corr16[2 * b + 1] = -128 * s[1];
    corr32[b] = -128 * (s[0] + s[1]);
    qsum32[b] = scale * (static_cast<float>(sq) + static_cast<float>(sr) * (1.0f / 256.0f));
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i < n; i += 16) {
    const __mmask16 m = lane_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    // g / (1 + e) with the reciprocal estimate and one Newton step (about
    // 1 ulp) instead of a division, whose throughput bounds this loop.
    const __m512 d = _mm512_add_ps(one, e);
    __m512 r = _mm512_rcp14_ps(d);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
    store16(out + i, _mm512_mul_ps(_mm512_mul_ps(g, r), u), m);
  }
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lane_mask(n - i);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (m == static_cast<__mmask16>(0xffff)) {  // plain store: see store16
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), h);
    } else {
      _mm256_mask_storeu_epi16(y + i, m, h);
    }
  }
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(lane_mask(n - i), x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  const __m256 a = _mm256_add_ps(_mm512_extractf32x8_ps(acc, 0), _mm512_extractf32x8_ps(acc, 1));
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
  const float ss = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
  const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(ss / static_cast<float>(n) + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lane_mask(n - i);
    store16(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale), _mm512_maskz_loadu_ps(m, w + i)), m);
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float* c2, const float* s2, bool adjacent) {
  const int64_t half = n_rot / 2;
  if (n_rot == 8) {  // tiny heads: 256-bit (adjacent) or 128-bit (halves) vectors, no masks
    if (adjacent) {
      const __m256 c = _mm256_loadu_ps(c2), s = _mm256_loadu_ps(s2);
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        const __m256 a = _mm256_loadu_ps(v);
        _mm256_storeu_ps(v, _mm256_add_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(_mm256_permute_ps(a, 0xb1), s)));
      }
    } else {
      const __m128 c = _mm_loadu_ps(c2), sl = _mm_loadu_ps(s2), sh = _mm_loadu_ps(s2 + 4);
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        const __m128 lo = _mm_loadu_ps(v), hi = _mm_loadu_ps(v + 4);
        _mm_storeu_ps(v, _mm_add_ps(_mm_mul_ps(lo, c), _mm_mul_ps(hi, sl)));
        _mm_storeu_ps(v + 4, _mm_add_ps(_mm_mul_ps(hi, c), _mm_mul_ps(lo, sh)));
      }
    }
    return;
  }
  if (head_dim < 16) {  // a masked vector here would overlap the next head (see store16)
    kernel_table_scalar()->rope(x, n_heads, head_dim, n_rot, c2, s2, adjacent);
    return;
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    if (adjacent) {
      for (int64_t i = 0; i < n_rot; i += 16) {
        const __mmask16 m = lane_mask(n_rot - i);
        const __m512 a = _mm512_maskz_loadu_ps(m, v + i);
        const __m512 sw = _mm512_permute_ps(a, 0xb1);  // swap each pair
        store16(v + i, _mm512_add_ps(_mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, c2 + i)), _mm512_mul_ps(sw, _mm512_maskz_loadu_ps(m, s2 + i))), m);
      }
    } else {
      for (int64_t i = 0; i < half; i += 16) {
        const __mmask16 m = lane_mask(half - i);
        const __m512 lo = _mm512_maskz_loadu_ps(m, v + i), hi = _mm512_maskz_loadu_ps(m, v + half + i);
        const __m512 c = _mm512_maskz_loadu_ps(m, c2 + i);
        store16(v + i, _mm512_add_ps(_mm512_mul_ps(lo, c), _mm512_mul_ps(hi, _mm512_maskz_loadu_ps(m, s2 + i))), m);
        store16(v + half + i, _mm512_add_ps(_mm512_mul_ps(hi, c), _mm512_mul_ps(lo, _mm512_maskz_loadu_ps(m, s2 + half + i))), m);
      }
    }
  }
}

const KernelTable kTable = {"avx512", gemm, quantize_row, attention_avx512, silu_mul, to_f16, rms_norm, rope};

}  // namespace

const KernelTable* kernel_table_avx512() { return &kTable; }

}  // namespace llmd::engine::cpu

#else

namespace llmd::engine::cpu {
const KernelTable* kernel_table_avx512() { return nullptr; }
}  // namespace llmd::engine::cpu

#endif
