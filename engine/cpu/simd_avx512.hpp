// Vector helpers shared by the AVX-512 kernel units (kernels_avx512*.cpp).
// Include only from translation units compiled with the AVX-512 flags of
// kernel_flags.cmake: everything here has internal linkage, so each unit keeps
// its own copy built for its own instruction set.
#pragma once

#if !defined(__AVX512F__)
#error "simd_avx512.hpp needs the AVX-512 flags of kernel_flags.cmake"
#endif

// GCC 12 reports the deliberately undefined pass-through operand of its own
// AVX-512 intrinsics (_mm512_undefined_ps) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstdint>

#include "engine/cpu/kernels.hpp"

namespace llmd::engine::cpu {

// The attention kernel of the AVX-512 table (kernels_avx512_attention.cpp).
void attention_avx512(const AttnTask& t);

namespace {

inline __mmask16 lane_mask(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u); }

// Stores the lanes of `m`: a plain store when all 16 are wanted. A masked store
// cannot forward its data to a later load of the same bytes (and a load that
// only overlaps its 64-byte span waits too), so whole vectors use plain stores.
inline void store16(float* p, __m512 v, __mmask16 m) {
  if (m == static_cast<__mmask16>(0xffff)) {
    _mm512_storeu_ps(p, v);
  } else {
    _mm512_mask_storeu_ps(p, m, v);
  }
}

// exp(x) for x in [-100, 88]: relative error ~1e-7.
inline __m512 exp512_in_range(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// exp(x) for float lanes (clamped to the range above).
inline __m512 exp512(__m512 x) {
  return exp512_in_range(_mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-100.0f)));
}

// exp(x) for x <= 0 (softmax weights): the same values as exp512, one clamp fewer.
inline __m512 exp512_nonpositive(__m512 x) { return exp512_in_range(_mm512_max_ps(x, _mm512_set1_ps(-100.0f))); }

// The largest lane (exact in any order).
inline float reduce_max(__m512 v) {
  const __m256 a = _mm256_max_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_max_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_max_ss(b, _mm_movehdup_ps(b)));
}

}  // namespace
}  // namespace llmd::engine::cpu
