// AVX2 + FMA + F16C kernels, for x86-64 CPUs without AVX-512. Same layouts and
// arithmetic as the AVX-512 variant, 8 lanes at a time (a row group is two
// halves). Int formats multiply with VPMADDUBSW using the sign trick
// (|w| times sign(w) * x) so the 16-bit pair sums cannot saturate.
#include "engine/cpu/kernels.hpp"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <utility>

namespace llmd::engine::cpu {
namespace {

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline __m256 exp256(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // n is in [-126, 127]: build 2^n in the exponent field.
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// Stores the first `lanes` (may be > 8) of v at y.
inline void store8(float* y, __m256 v, int64_t lanes, bool accumulate) {
  if (lanes >= 8) {
    if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(y));
    _mm256_storeu_ps(y, v);
    return;
  }
  if (lanes <= 0) return;
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (int64_t i = 0; i < lanes; ++i) y[i] = accumulate ? y[i] + tmp[i] : tmp[i];
}

// ----------------------------------------------------------------------------
// GEMM
// ----------------------------------------------------------------------------

template <PackFormat F>
inline __m256 load_w8(const uint8_t* p) {
  if constexpr (F == PackFormat::f32) {
    return _mm256_load_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (F == PackFormat::f16) {
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
}

template <PackFormat F, int RG, int NC>
void float_tile(const GemmTask& t, int64_t g, int64_t c) {
  const PackedView& w = *t.w;
  constexpr int64_t elt = F == PackFormat::f32 ? 4 : 2;
  constexpr int H = 2 * RG;  // 8-row halves
  const uint8_t* gp[RG];
  for (int r = 0; r < RG; ++r) gp[r] = w.data + static_cast<uint64_t>(g + r) * w.group_bytes;
  const float* xp[NC];
  for (int j = 0; j < NC; ++j) xp[j] = t.x + (c + j) * t.x_stride;
  __m256 acc[H][NC];
#pragma GCC unroll 16
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) acc[h][j] = _mm256_setzero_ps();
  for (int64_t k = 0; k < w.cols; ++k) {
    __m256 wv[H];
#pragma GCC unroll 16
    for (int h = 0; h < H; ++h) wv[h] = load_w8<F>(gp[h / 2] + (k * kRowGroup + (h % 2) * 8) * elt);
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) {
      const __m256 xb = _mm256_broadcast_ss(xp[j] + k);
#pragma GCC unroll 16
      for (int h = 0; h < H; ++h) acc[h][j] = _mm256_fmadd_ps(wv[h], xb, acc[h][j]);
    }
  }
  for (int h = 0; h < H; ++h) {
    const int64_t row0 = (g + h / 2) * kRowGroup + (h % 2) * 8;
    for (int j = 0; j < NC; ++j) store8(t.y + (c + j) * t.y_stride + row0, acc[h][j], w.rows - row0, t.accumulate);
  }
}

template <PackFormat F, int RG, int NC>
void int_tile(const GemmTask& t, int64_t g, int64_t c) {
  const PackedView& w = *t.w;
  const ActQ8& a = *t.xq;
  constexpr int BS = F == PackFormat::i6_b16 ? 16 : 32;
  constexpr bool AFF = F == PackFormat::u4_b32_aff || F == PackFormat::u5_b32_aff;
  constexpr int H = 2 * RG;
  const uint8_t* gp[RG];
  for (int r = 0; r < RG; ++r) gp[r] = w.data + static_cast<uint64_t>(g + r) * w.group_bytes;
  const int8_t* xq[NC];
  const int8_t* xr[NC];
  const float* xd[NC];
  const float* qsum[NC];
  for (int j = 0; j < NC; ++j) {
    xq[j] = a.q + (c + j) * a.q_stride;
    xr[j] = a.r + (c + j) * a.q_stride;
    xd[j] = a.d + (c + j) * a.d_stride;
    qsum[j] = a.qsum32 + (c + j) * a.d_stride;
  }
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[H][NC];
#pragma GCC unroll 16
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) acc[h][j] = _mm256_setzero_ps();
  const int64_t nb = w.cols / BS;
  for (int64_t b = 0; b < nb; ++b) {
    // Signed weight levels need no offset correction here.
    __m256i hi[H][NC], lo[H][NC];
#pragma GCC unroll 16
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) hi[h][j] = lo[h][j] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int q = 0; q < BS / 4; ++q) {
      __m256i wv[H], aw[H];
#pragma GCC unroll 16
      for (int h = 0; h < H; ++h) {
        __m256i u;
        if constexpr (F == PackFormat::u4_b32_aff || F == PackFormat::u5_b32_aff || F == PackFormat::i6_b16) {
          // Chunks 2p and 2p + 1 share a line: low and high nibbles.
          const int64_t base = F == PackFormat::u5_b32_aff ? b * 5 * 64 : F == PackFormat::i6_b16 ? b * 3 * 64 : b * (BS / 8) * 64;
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(gp[h / 2] + base + (q / 2) * 64 + (h % 2) * 32));
          u = _mm256_and_si256(q % 2 == 0 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
          if constexpr (F == PackFormat::i6_b16) {
            // Bits 2q, 2q+1 of the third line, moved to bits 4, 5.
            const __m256i hb = _mm256_load_si256(reinterpret_cast<const __m256i*>(gp[h / 2] + base + 128 + (h % 2) * 32));
            const __m256i moved = q <= 2 ? _mm256_slli_epi16(hb, 4 - 2 * q) : _mm256_srli_epi16(hb, 2 * q - 4);
            u = _mm256_or_si256(u, _mm256_and_si256(moved, _mm256_set1_epi8(0x30)));
          }
          if constexpr (F == PackFormat::u5_b32_aff) {
            // Bit q of the fifth-bit line, moved to bit 4.
            const __m256i hb = _mm256_load_si256(reinterpret_cast<const __m256i*>(gp[h / 2] + base + 256 + (h % 2) * 32));
            const __m256i moved = q <= 4 ? _mm256_slli_epi16(hb, 4 - q) : _mm256_srli_epi16(hb, q - 4);
            u = _mm256_or_si256(u, _mm256_and_si256(moved, _mm256_set1_epi8(0x10)));
          }
        } else {
          u = _mm256_load_si256(reinterpret_cast<const __m256i*>(gp[h / 2] + (b * (BS / 4) + q) * 64 + (h % 2) * 32));
        }
        // Signed level: u - 128, u - 32 (i6), or u < 32 as is (affine).
        wv[h] = AFF ? u : F == PackFormat::i6_b16 ? _mm256_sub_epi8(u, _mm256_set1_epi8(32)) : _mm256_xor_si256(u, flip);
        aw[h] = _mm256_abs_epi8(wv[h]);                // |w| <= 128 read as unsigned
      }
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        const __m256i xh = _mm256_set1_epi32(load_i32(xq[j] + b * BS + q * 4));
        const __m256i xl = _mm256_set1_epi32(load_i32(xr[j] + b * BS + q * 4));
#pragma GCC unroll 16
        for (int h = 0; h < H; ++h) {
          // |w| * (x * sign(w)): pair sums stay within 2 * 128 * 127.
          const __m256i ph = _mm256_maddubs_epi16(aw[h], _mm256_sign_epi8(xh, wv[h]));
          const __m256i pl = _mm256_maddubs_epi16(aw[h], _mm256_sign_epi8(xl, wv[h]));
          hi[h][j] = _mm256_add_epi32(hi[h][j], _mm256_madd_epi16(ph, ones16));
          lo[h][j] = _mm256_add_epi32(lo[h][j], _mm256_madd_epi16(pl, ones16));
        }
      }
    }
    __m256 sc[H];
#pragma GCC unroll 16
    for (int h = 0; h < H; ++h) {
      if constexpr (F == PackFormat::i8_b32_f16) {
        sc[h] = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(gp[h / 2] + w.scales_offset + b * 32 + (h % 2) * 16)));
      } else if constexpr (F == PackFormat::i6_b16) {
        const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(gp[h / 2] + w.mins_offset + (b / 16) * 64 + (h % 2) * 32));
        const __m128i s8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(gp[h / 2] + w.scales_offset + b * 16 + (h % 2) * 8));
        sc[h] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(s8)));
      } else {
        sc[h] = _mm256_load_ps(reinterpret_cast<const float*>(gp[h / 2] + w.scales_offset + b * 64 + (h % 2) * 32));
      }
    }
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) {
      const __m256 dx = _mm256_set1_ps(xd[j][b * BS / kActBlock] * (1.0f / 256.0f));
#pragma GCC unroll 16
      for (int h = 0; h < H; ++h) {
        const __m256i isum = _mm256_add_epi32(_mm256_slli_epi32(hi[h][j], 8), lo[h][j]);
        acc[h][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(sc[h], dx), acc[h][j]);
      }
    }
    if constexpr (AFF) {
#pragma GCC unroll 16
      for (int h = 0; h < H; ++h) {
        const __m256 mn = _mm256_load_ps(reinterpret_cast<const float*>(gp[h / 2] + w.mins_offset + b * 64 + (h % 2) * 32));
#pragma GCC unroll 16
        for (int j = 0; j < NC; ++j) acc[h][j] = _mm256_fmadd_ps(mn, _mm256_set1_ps(qsum[j][b]), acc[h][j]);
      }
    }
  }
  for (int h = 0; h < H; ++h) {
    const int64_t row0 = (g + h / 2) * kRowGroup + (h % 2) * 8;
    for (int j = 0; j < NC; ++j) store8(t.y + (c + j) * t.y_stride + row0, acc[h][j], w.rows - row0, t.accumulate);
  }
}

using TileFn = void (*)(const GemmTask&, int64_t, int64_t);

constexpr int kFewCols = 2;
constexpr int kRgFew = 2;
constexpr int kNcFloat = 4;
constexpr int kNcInt = 2;

template <PackFormat F>
constexpr bool is_float_format() {
  return F == PackFormat::f32 || F == PackFormat::f16 || F == PackFormat::bf16;
}

template <PackFormat F, int RG, int NC>
constexpr TileFn tile_fn() {
  if constexpr (is_float_format<F>())
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
  static constexpr int kNc = is_float_format<F>() ? kNcFloat : kNcInt;
  TileFn fn[kRgFew][kNcFloat] = {};
  constexpr TileTable() {
    fill_row<F, 1>(fn[0], std::make_integer_sequence<int, kNc>{});
    fill_row<F, 2>(fn[1], std::make_integer_sequence<int, kNc>{});
  }
};

template <PackFormat F>
void gemm_format(const GemmTask& t) {
  static constexpr TileTable<F> table;
  const int64_t n = t.c1 - t.c0;
  const int rg_step = n <= kFewCols ? kRgFew : 1;
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

// Packs 32 int32 lanes (four vectors in order) to 32 int8 with saturation.
inline __m256i pack32(const __m256i v[4]) {
  const __m256i p01 = _mm256_packs_epi32(v[0], v[1]);  // interleaved by 128-bit halves
  const __m256i p23 = _mm256_packs_epi32(v[2], v[3]);
  const __m256i p = _mm256_packs_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quantize_row(const float* x, int64_t cols, int8_t* q, int8_t* r, float* d, int32_t* corr16, int32_t* corr32,
                  float* qsum32) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 k256 = _mm256_set1_ps(256.0f);
  const __m256 lim = _mm256_set1_ps(127.0f);
  const __m256 nlim = _mm256_set1_ps(-127.0f);
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int64_t b = 0; b < cols / kActBlock; ++b) {
    __m256 v[4];
    __m256 mx = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + b * 32 + i * 8);
      mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], abs_mask));
    }
    const float amax = hmax(mx);
    const float scale = amax / 127.0f;
    const __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    __m256i qi[4], ri[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 s = _mm256_mul_ps(v[i], inv);
      const __m256 hi = _mm256_round_ps(s, kRound);
      const __m256 lo = _mm256_max_ps(_mm256_min_ps(_mm256_round_ps(_mm256_mul_ps(_mm256_sub_ps(s, hi), k256), kRound), lim), nlim);
      qi[i] = _mm256_cvtps_epi32(hi);
      ri[i] = _mm256_cvtps_epi32(lo);
    }
    const int32_t q0 = hsum_i32(_mm256_add_epi32(qi[0], qi[1])), q1 = hsum_i32(_mm256_add_epi32(qi[2], qi[3]));
    const int32_t r0 = hsum_i32(_mm256_add_epi32(ri[0], ri[1])), r1 = hsum_i32(_mm256_add_epi32(ri[2], ri[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 32), pack32(qi));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + b * 32), pack32(ri));
    d[b] = scale;
    corr16[2 * b] = -128 * (256 * q0 + r0);
    corr16[2 * b + 1] = -128 * (256 * q1 + r1);
    corr32[b] = corr16[2 * b] + corr16[2 * b + 1];
    qsum32[b] = scale * (static_cast<float>(q0 + q1) + static_cast<float>(r0 + r1) * (1.0f / 256.0f));
  }
}

// ----------------------------------------------------------------------------
// Paged attention
// ----------------------------------------------------------------------------

// 8 consecutive KV elements at base[i..], n of them valid (rest read as 0).
template <KvElem E>
inline __m256 load_kv8(const void* base, int64_t i, int n) {
  if constexpr (E == KvElem::f32) {
    const float* p = static_cast<const float*>(base) + i;
    if (n >= 8) return _mm256_loadu_ps(p);
    alignas(32) float tmp[8] = {};
    for (int k = 0; k < n; ++k) tmp[k] = p[k];
    return _mm256_load_ps(tmp);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(base) + i;
    if (n >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    alignas(16) uint16_t tmp[8] = {};
    for (int k = 0; k < n; ++k) tmp[k] = p[k];
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
  }
}

constexpr int kMaxHeadsAtOnce = 8;

template <KvElem E, int NV>
void attention_impl(const AttnTask& t) {
  const int bs = t.block_size, hd = t.head_dim;
  const int n_blocks = (t.n_keys + bs - 1) / bs;
  const int ld = n_blocks * bs;
  float* scores = t.scratch;

  for (int h0 = 0; h0 < t.g; h0 += kMaxHeadsAtOnce) {
    const int hn = t.g - h0 < kMaxHeadsAtOnce ? t.g - h0 : kMaxHeadsAtOnce;
    for (int b = 0; b < n_blocks; ++b) {
      const void* kt = static_cast<const char*>(t.k_tiles[b]) + t.tile_offset;
      for (int s0 = 0; s0 < bs; s0 += 8) {
        const int valid = t.n_keys - b * bs - s0;
        if (valid <= 0) break;
        const int width = bs - s0 < 8 ? bs - s0 : 8;
        __m256 acc[kMaxHeadsAtOnce];
        for (int h = 0; h < kMaxHeadsAtOnce; ++h) acc[h] = _mm256_setzero_ps();
        for (int d = 0; d < hd; ++d) {
          const __m256 kv = load_kv8<E>(kt, static_cast<int64_t>(d) * bs + s0, width);
#pragma GCC unroll 8
          for (int h = 0; h < kMaxHeadsAtOnce; ++h)
            if (h < hn) acc[h] = _mm256_fmadd_ps(_mm256_broadcast_ss(t.q + (h0 + h) * hd + d), kv, acc[h]);
        }
        const int n = valid < width ? valid : width;
        for (int h = 0; h < hn; ++h) {
          alignas(32) float tmp[8];
          _mm256_store_ps(tmp, _mm256_mul_ps(acc[h], _mm256_set1_ps(t.scale)));
          for (int k = 0; k < n; ++k) scores[(h0 + h) * ld + b * bs + s0 + k] = tmp[k];
        }
      }
    }
  }

  float inv_sum[64];
  float* inv = t.g <= 64 ? inv_sum : scores + t.g * ld;
  for (int h = 0; h < t.g; ++h) {
    float* s = scores + h * ld;
    float mx = -__builtin_inff();
    for (int j = 0; j < t.n_keys; ++j) mx = s[j] > mx ? s[j] : mx;
    const __m256 vmax = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= t.n_keys; j += 8) {
      const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vmax));
      _mm256_storeu_ps(s + j, e);
      sum = _mm256_add_ps(sum, e);
    }
    float tail = 0.0f;
    if (j < t.n_keys) {
      alignas(32) float tmp[8];
      for (int k = 0; k < 8; ++k) tmp[k] = j + k < t.n_keys ? s[j + k] - mx : -100.0f;
      _mm256_store_ps(tmp, exp256(_mm256_load_ps(tmp)));
      for (int k = 0; j + k < t.n_keys; ++k) {
        s[j + k] = tmp[k];
        tail += tmp[k];
      }
    }
    inv[h] = 1.0f / (hsum(sum) + tail);
  }

  constexpr int kHc = NV >= 8 ? 1 : 8 / NV;
  for (int h0 = 0; h0 < t.g; h0 += kHc) {
    const int hn = t.g - h0 < kHc ? t.g - h0 : kHc;
    __m256 o[kHc][NV];
#pragma GCC unroll 8
    for (int h = 0; h < kHc; ++h)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) o[h][v] = _mm256_setzero_ps();
    // Block by block (no division per key); keys in order, as one loop over j.
    for (int b = 0, j0 = 0; j0 < t.n_keys; ++b, j0 += bs) {
      const void* vt = static_cast<const char*>(t.v_tiles[b]) + t.tile_offset;
      const int in_block = t.n_keys - j0 < bs ? t.n_keys - j0 : bs;
      for (int sl = 0; sl < in_block; ++sl) {
        const int j = j0 + sl;
        const int64_t base = static_cast<int64_t>(sl) * hd;
        __m256 vv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) vv[v] = load_kv8<E>(vt, base + v * 8, hd - v * 8);
#pragma GCC unroll 8
        for (int h = 0; h < kHc; ++h) {
          if (h < hn) {
            const __m256 p = _mm256_broadcast_ss(scores + (h0 + h) * ld + j);
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) o[h][v] = _mm256_fmadd_ps(p, vv[v], o[h][v]);
          }
        }
      }
    }
    for (int h = 0; h < hn; ++h) {
      const __m256 s = _mm256_set1_ps(inv[h0 + h]);
      for (int v = 0; v < NV; ++v) {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, _mm256_mul_ps(o[h][v], s));
        const int n = hd - v * 8 < 8 ? hd - v * 8 : 8;
        for (int k = 0; k < n; ++k) t.out[(h0 + h) * hd + v * 8 + k] = tmp[k];
      }
    }
  }
}

template <KvElem E>
void attention_elem(const AttnTask& t) {
  switch ((t.head_dim + 7) / 8) {
    case 1: attention_impl<E, 1>(t); break;
    case 2: attention_impl<E, 2>(t); break;
    case 4: attention_impl<E, 4>(t); break;
    case 8: attention_impl<E, 8>(t); break;
    case 16: attention_impl<E, 16>(t); break;
    default: kernel_table_scalar()->attention(t); break;
  }
}

void attention(const AttnTask& t) {
  if (t.g > 64) {
    kernel_table_scalar()->attention(t);
  } else if (t.elem == KvElem::f32) {
    attention_elem<KvElem::f32>(t);
  } else {
    attention_elem<KvElem::f16>(t);
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  if (i < n) kernel_table_scalar()->silu_mul(gate + i, up + i, out + i, n - i);
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (i < n) {  // the tail through a zero-padded vector (no shared inline helpers in this unit)
    alignas(32) float in[8] = {};
    alignas(16) uint16_t out[8];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(float));
    _mm_store_si128(reinterpret_cast<__m128i*>(out),
                    _mm256_cvtps_ph(_mm256_load_ps(in), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(uint16_t));
  }
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    acc = _mm256_fmadd_ps(v, v, acc);
  }
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
  float ss = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
  for (; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
  for (; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float* c2, const float* s2, bool adjacent) {
  const int64_t half = n_rot / 2;
  const int64_t vec_end = adjacent ? n_rot / 8 * 8 : half / 8 * 8;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    int64_t i = 0;
    if (adjacent) {
      for (; i < vec_end; i += 8) {
        const __m256 a = _mm256_loadu_ps(v + i);
        const __m256 sw = _mm256_permute_ps(a, 0xb1);  // swap each pair
        _mm256_storeu_ps(v + i, _mm256_add_ps(_mm256_mul_ps(a, _mm256_loadu_ps(c2 + i)), _mm256_mul_ps(sw, _mm256_loadu_ps(s2 + i))));
      }
    } else {
      for (; i < vec_end; i += 8) {
        const __m256 lo = _mm256_loadu_ps(v + i), hi = _mm256_loadu_ps(v + half + i);
        const __m256 c = _mm256_loadu_ps(c2 + i);
        _mm256_storeu_ps(v + i, _mm256_add_ps(_mm256_mul_ps(lo, c), _mm256_mul_ps(hi, _mm256_loadu_ps(s2 + i))));
        _mm256_storeu_ps(v + half + i, _mm256_add_ps(_mm256_mul_ps(hi, c), _mm256_mul_ps(lo, _mm256_loadu_ps(s2 + half + i))));
      }
    }
    if (i < (adjacent ? n_rot : half)) {  // the tail of this head
      if (adjacent) {
        for (; i < n_rot; i += 2) {
          const float x0 = v[i], x1 = v[i + 1];
          v[i] = x0 * c2[i] + x1 * s2[i];
          v[i + 1] = x1 * c2[i + 1] + x0 * s2[i + 1];
        }
      } else {
        for (; i < half; ++i) {
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * c2[i] + x1 * s2[i];
          v[i + half] = x1 * c2[i + half] + x0 * s2[i + half];
        }
      }
    }
  }
}

const KernelTable kTable = {"avx2", gemm, quantize_row, attention, silu_mul, to_f16, rms_norm, rope};

}  // namespace

const KernelTable* kernel_table_avx2() { return &kTable; }

}  // namespace llmd::engine::cpu

#else

namespace llmd::engine::cpu {
const KernelTable* kernel_table_avx2() { return nullptr; }
}  // namespace llmd::engine::cpu

#endif
