// Paged attention with AVX-512 (see AttnTask in kernels.hpp): scores from the
// transposed keys with each head's maximum, an exact softmax and the weighted
// sum of values; head_dim 8 fuses the last two. Compiled with the AVX-512
// flags of kernel_flags.cmake; only attention_avx512() has external linkage.
#include "engine/cpu/kernels.hpp"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512VNNI__)

#include "engine/cpu/simd_avx512.hpp"

namespace llmd::engine::cpu {
namespace {

template <KvElem E>
inline __m512 load_kv16(const void* base, int64_t i, __mmask16 m) {
  if constexpr (E == KvElem::f32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + i);
  } else {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + i));
  }
}

constexpr int kMaxHeadsAtOnce = 8;

// Step 1 of attention for HN query heads h0 .. h0 + HN - 1: the scores of
// every key, scaled, and each head's largest score (mx[h0 + h]). Few heads get
// two partial sums each (even and odd dimensions) so the FMA chains overlap;
// the accumulators and running maxima stay in registers.
template <KvElem E, int HN>
void score_heads(const AttnTask& t, float* scores, int ld, int h0, float* mx) {
  constexpr int kSplit = HN <= 4 ? 2 : 1;
  const int bs = t.block_size, hd = t.head_dim;
  const int n_blocks = (t.n_keys + bs - 1) / bs;
  const float* q = t.q + static_cast<int64_t>(h0) * hd;
  __m512 run_max[HN];
#pragma GCC unroll 8
  for (int h = 0; h < HN; ++h) run_max[h] = _mm512_set1_ps(-__builtin_inff());
  for (int b = 0; b < n_blocks; ++b) {
    const void* kt = static_cast<const char*>(t.k_tiles[b]) + t.tile_offset;
    for (int s0 = 0; s0 < bs; s0 += 16) {
      const int valid = t.n_keys - b * bs - s0;
      if (valid <= 0) break;
      const __mmask16 m = lane_mask(bs - s0 < 16 ? bs - s0 : 16);
      __m512 acc[HN][kSplit];
#pragma GCC unroll 8
      for (int h = 0; h < HN; ++h)
#pragma GCC unroll 2
        for (int x = 0; x < kSplit; ++x) acc[h][x] = _mm512_setzero_ps();
      int d = 0;
      for (; d + kSplit <= hd; d += kSplit) {
#pragma GCC unroll 2
        for (int x = 0; x < kSplit; ++x) {
          const __m512 kv = load_kv16<E>(kt, static_cast<int64_t>(d + x) * bs + s0, m);
#pragma GCC unroll 8
          for (int h = 0; h < HN; ++h) acc[h][x] = _mm512_fmadd_ps(_mm512_set1_ps(q[h * hd + d + x]), kv, acc[h][x]);
        }
      }
      for (; d < hd; ++d) {
        const __m512 kv = load_kv16<E>(kt, static_cast<int64_t>(d) * bs + s0, m);
#pragma GCC unroll 8
        for (int h = 0; h < HN; ++h) acc[h][0] = _mm512_fmadd_ps(_mm512_set1_ps(q[h * hd + d]), kv, acc[h][0]);
      }
      const __mmask16 vm = lane_mask(valid < 16 ? valid : 16) & m;
#pragma GCC unroll 8
      for (int h = 0; h < HN; ++h) {
        __m512 sum = acc[h][0];
        if constexpr (kSplit == 2) sum = _mm512_add_ps(sum, acc[h][1]);
        const __m512 s = _mm512_mul_ps(sum, _mm512_set1_ps(t.scale));
        // Whole vectors when blocks hold a multiple of 16 keys: the lanes past
        // the last key stay inside this head's row, and a masked store would
        // keep step 2's load of the same scores from being forwarded.
        if (bs % 16 == 0) {
          _mm512_storeu_ps(scores + (h0 + h) * ld + b * bs + s0, s);
        } else {
          _mm512_mask_storeu_ps(scores + (h0 + h) * ld + b * bs + s0, vm, s);
        }
        run_max[h] = _mm512_mask_max_ps(run_max[h], vm, run_max[h], s);
      }
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < HN; ++h) mx[h0 + h] = reduce_max(run_max[h]);
}

// Steps 2 and 3 of attention for head_dim 8 (tiny models) and blocks of a
// multiple of 16 keys, fused: the exponentials of 16 keys stay in a register
// and feed the value sums at once. Two keys' values fill one vector (lanes 0-7
// the even key, 8-15 the odd one), two heads share each value load, and each
// head keeps two partial sums (enough to hide the FMA latency here, and few
// enough that nothing spills), folded at the end. Lanes past the last key are
// zeroed before use: the scratch and the cache slots there hold stale data.
template <KvElem E, bool kFull>
inline void hd8_chunk(const void* vt, int sl, int valid, const __m512i* pair, __m512 e0, __m512 e1,
                      __m512 (&acc)[2][2]) {
#pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) {
    __mmask16 m = 0xffff;
    if constexpr (!kFull) {
      const int keys = valid - 2 * q;
      m = keys >= 2 ? static_cast<__mmask16>(0xffff) : keys == 1 ? static_cast<__mmask16>(0x00ff) : static_cast<__mmask16>(0);
    }
    const __m512 vv = load_kv16<E>(vt, static_cast<int64_t>(sl + 2 * q) * 8, m);
    acc[0][q & 1] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair[q], e0), vv, acc[0][q & 1]);
    acc[1][q & 1] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair[q], e1), vv, acc[1][q & 1]);
  }
}

template <KvElem E>
void softmax_values_hd8(const AttnTask& t, const float* scores, int ld, const float* mx) {
  const int bs = t.block_size;
  __m512i pair[8];
  for (int q = 0; q < 8; ++q)
    pair[q] = _mm512_mask_blend_epi32(static_cast<__mmask16>(0xff00), _mm512_set1_epi32(2 * q), _mm512_set1_epi32(2 * q + 1));
  for (int h0 = 0; h0 < t.g; h0 += 2) {
    const int h1 = h0 + 1 < t.g ? h0 + 1 : h0;
    const float* s0 = scores + h0 * ld;
    const float* s1 = scores + h1 * ld;
    const __m512 m0 = _mm512_set1_ps(mx[h0]), m1 = _mm512_set1_ps(mx[h1]);
    __m512 acc[2][2];
    for (int h = 0; h < 2; ++h)
      for (int q = 0; q < 2; ++q) acc[h][q] = _mm512_setzero_ps();
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    for (int b = 0, j0 = 0; j0 < t.n_keys; ++b, j0 += bs) {
      const void* vt = static_cast<const char*>(t.v_tiles[b]) + t.tile_offset;
      const int in_block = t.n_keys - j0 < bs ? t.n_keys - j0 : bs;
      for (int sl = 0; sl < in_block; sl += 16) {
        const int valid = in_block - sl < 16 ? in_block - sl : 16;
        if (valid == 16) {
          const __m512 e0 = exp512_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s0 + j0 + sl), m0));
          const __m512 e1 = exp512_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s1 + j0 + sl), m1));
          sum0 = _mm512_add_ps(sum0, e0);
          sum1 = _mm512_add_ps(sum1, e1);
          hd8_chunk<E, true>(vt, sl, valid, pair, e0, e1, acc);
        } else {
          // Lanes past the last key hold whatever step 1 computed there: zeroed.
          const __mmask16 vm = lane_mask(valid);
          const __m512 e0 = _mm512_maskz_mov_ps(vm, exp512_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s0 + j0 + sl), m0)));
          const __m512 e1 = _mm512_maskz_mov_ps(vm, exp512_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s1 + j0 + sl), m1)));
          sum0 = _mm512_add_ps(sum0, e0);
          sum1 = _mm512_add_ps(sum1, e1);
          hd8_chunk<E, false>(vt, sl, valid, pair, e0, e1, acc);
        }
      }
    }
    const float inv[2] = {1.0f / _mm512_reduce_add_ps(sum0), 1.0f / _mm512_reduce_add_ps(sum1)};
    for (int h = 0; h < (h1 != h0 ? 2 : 1); ++h) {
      const __m512 sum = _mm512_add_ps(acc[h][0], acc[h][1]);
      const __m256 o = _mm256_add_ps(_mm512_castps512_ps256(sum), _mm512_extractf32x8_ps(sum, 1));
      _mm256_storeu_ps(t.out + (h0 + h) * 8, _mm256_mul_ps(o, _mm256_set1_ps(inv[h])));
    }
  }
}

// NV: vectors of 16 per head (head_dim <= 16 * NV).
template <KvElem E, int NV>
void attention_impl(const AttnTask& t) {
  const int bs = t.block_size, hd = t.head_dim;
  const int n_blocks = (t.n_keys + bs - 1) / bs;
  const int ld = n_blocks * bs;
  float* scores = t.scratch;  // [g][ld]
  const __mmask16 tail = lane_mask(hd - (NV - 1) * 16);

  // 1. Scores: with keys stored transposed, 16 keys of a block take one FMA per
  //    dimension and head, with no horizontal sums; each head's maximum on the way.
  float mx_heads[64];
  for (int h0 = 0; h0 < t.g; h0 += kMaxHeadsAtOnce) {
    const int hn = t.g - h0 < kMaxHeadsAtOnce ? t.g - h0 : kMaxHeadsAtOnce;
    switch (hn) {
      case 1: score_heads<E, 1>(t, scores, ld, h0, mx_heads); break;
      case 2: score_heads<E, 2>(t, scores, ld, h0, mx_heads); break;
      case 3: score_heads<E, 3>(t, scores, ld, h0, mx_heads); break;
      case 4: score_heads<E, 4>(t, scores, ld, h0, mx_heads); break;
      case 5: score_heads<E, 5>(t, scores, ld, h0, mx_heads); break;
      case 6: score_heads<E, 6>(t, scores, ld, h0, mx_heads); break;
      case 7: score_heads<E, 7>(t, scores, ld, h0, mx_heads); break;
      default: score_heads<E, 8>(t, scores, ld, h0, mx_heads); break;
    }
  }
  if constexpr (NV == 1) {
    if (hd == 8 && bs % 16 == 0) {
      softmax_values_hd8<E>(t, scores, ld, mx_heads);
      return;
    }
  }

  // 2. Softmax per head (unnormalized; divided at the end).
  float inv_sum[64];
  float* inv = t.g <= 64 ? inv_sum : scores + t.g * ld;  // scratch holds g * head_dim more floats
  for (int h = 0; h < t.g; ++h) {
    float* s = scores + h * ld;
    const __m512 vmax = _mm512_set1_ps(mx_heads[h]);
    __m512 sum = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= t.n_keys; j += 16) {
      const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), vmax));
      _mm512_storeu_ps(s + j, e);
      sum = _mm512_add_ps(sum, e);
    }
    if (j < t.n_keys) {
      const __mmask16 m = lane_mask(t.n_keys - j);
      const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vmax));
      store16(s + j, e, m);
      sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, e));
    }
    inv[h] = 1.0f / _mm512_reduce_add_ps(sum);
  }

  // 3. Weighted sum of values, a few heads at a time so their outputs stay in registers.
  constexpr int kHc = NV >= 16 ? 1 : 16 / NV;
  for (int h0 = 0; h0 < t.g; h0 += kHc) {
    const int hn = t.g - h0 < kHc ? t.g - h0 : kHc;
    __m512 o[kHc][NV];
#pragma GCC unroll 16
    for (int h = 0; h < kHc; ++h)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) o[h][v] = _mm512_setzero_ps();
    // Block by block (no division per key); keys in order, as one loop over j.
    for (int b = 0, j0 = 0; j0 < t.n_keys; ++b, j0 += bs) {
      const void* vt = static_cast<const char*>(t.v_tiles[b]) + t.tile_offset;
      const int in_block = t.n_keys - j0 < bs ? t.n_keys - j0 : bs;
      for (int sl = 0; sl < in_block; ++sl) {
        const int j = j0 + sl;
        const int64_t base = static_cast<int64_t>(sl) * hd;
        __m512 vv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) vv[v] = load_kv16<E>(vt, base + v * 16, v == NV - 1 ? tail : static_cast<__mmask16>(0xffff));
#pragma GCC unroll 16
        for (int h = 0; h < kHc; ++h) {
          if (h < hn) {
            const __m512 p = _mm512_set1_ps(scores[(h0 + h) * ld + j]);
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) o[h][v] = _mm512_fmadd_ps(p, vv[v], o[h][v]);
          }
        }
      }
    }
    for (int h = 0; h < hn; ++h) {
      const __m512 s = _mm512_set1_ps(inv[h0 + h]);
      for (int v = 0; v < NV; ++v)
        store16(t.out + (h0 + h) * hd + v * 16, _mm512_mul_ps(o[h][v], s), v == NV - 1 ? tail : static_cast<__mmask16>(0xffff));
    }
  }
}

template <KvElem E>
void attention_elem(const AttnTask& t) {
  switch ((t.head_dim + 15) / 16) {
    case 1: attention_impl<E, 1>(t); break;
    case 2: attention_impl<E, 2>(t); break;
    case 3: attention_impl<E, 3>(t); break;
    case 4: attention_impl<E, 4>(t); break;
    case 5: attention_impl<E, 5>(t); break;
    case 6: attention_impl<E, 6>(t); break;
    case 7: attention_impl<E, 7>(t); break;
    case 8: attention_impl<E, 8>(t); break;
    default: kernel_table_scalar()->attention(t); break;
  }
}

}  // namespace

void attention_avx512(const AttnTask& t) {
  if (t.g > 64) {
    kernel_table_scalar()->attention(t);
  } else if (t.elem == KvElem::f32) {
    attention_elem<KvElem::f32>(t);
  } else {
    attention_elem<KvElem::f16>(t);
  }
}

}  // namespace llmd::engine::cpu

#endif
