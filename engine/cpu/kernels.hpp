// The CPU compute kernels and their data layouts. Each instruction set has its
// own translation unit compiled with its own flags (kernels_scalar.cpp,
// kernels_avx2.cpp, kernels_avx512.cpp) that fills a KernelTable; the table
// for this machine is picked at run time (cpu_features.hpp). This header holds
// only plain structs and declarations: no inline functions or templates that
// an AVX-512 translation unit could emit as a shared symbol.
//
// Packed weight layout (PackedView): rows are grouped by 16 ("row groups");
// a group holds the 16 rows interleaved so that one SIMD register carries the
// same input column of all 16 rows, and each output lane is one row.
//   float formats  f32/f16/bf16: per group [cols][16] elements.
//   int formats: per group, quants then scales then mins, each region 64-byte aligned:
//     quants [cols/block][block/4][16 rows][4 bytes]   (u8 levels, 4 consecutive inputs per row)
//       u4 formats hold two 4-input chunks per 64 bytes instead: byte (row, e) of
//       pair p is level(chunk 2p) | level(chunk 2p+1) << 4   ([cols/block][block/8][16][4])
//       u5: per block the 4 nibble lines of u4, then one line whose bit q of
//       byte (row, e) is the fifth bit (16) of chunk q's level  ([cols/32][5][16][4])
//       i6: per block of 16 the 2 nibble lines, then one line whose bits 2q, 2q+1
//       of byte (row, e) are the top two bits of chunk q's level  ([cols/16][3][16][4])
//     scales [cols/block][16] (f16 or f32; i6: int8),  mins [cols/block][16] f32 (affine only;
//     i6: the f32 super-block scale d, [cols/256][16])
//   i8_b32_f16 : value = scale * (u - 128), block 32, f16 scales   (q8_0)
//   i6_b16     : value = d * sc * (u - 32), u < 64, block 16, int8 sc, f32 d per 256   (q6_K)
//   u4_b32_aff : value = scale * u + min,  u < 16 in nibbles, block 32, f32 scales/mins (q4_K, q4_0)
//   u5_b32_aff : value = scale * u + min,  u < 32 (nibble + bit plane), block 32, f32 scales/mins (q5_K)
// Rows past `rows` in the last group are zero.
#pragma once

#include <cstdint>

namespace llmd::engine::cpu {

constexpr int kRowGroup = 16;
constexpr int kActBlock = 32;  // activation quantization block

enum class PackFormat : uint8_t { f32, f16, bf16, i8_b32_f16, i6_b16, u4_b32_aff, u5_b32_aff };

struct PackedView {
  PackFormat format = PackFormat::f32;
  int64_t rows = 0;          // valid output rows
  int64_t groups = 0;        // ceil(rows / 16)
  int64_t cols = 0;          // input length K
  int32_t block = 0;         // int formats: inputs per scale block (16 or 32)
  uint64_t group_bytes = 0;  // stride between groups (multiple of 64)
  uint64_t scales_offset = 0;  // int formats: offsets inside a group
  uint64_t mins_offset = 0;
  const uint8_t* data = nullptr;  // 64-byte aligned
};

// Activations quantized for the int formats, one row per token, in two int8
// levels per value: x ~= d * (q + r / 256) with q = round(x / d), d = max|x| / 127
// per 32 inputs, and r the rounded residual (|r| <= 127). A dot product runs
// both levels through the integer units; the pair keeps activations to about
// 15 bits, so quantized weights are computed with float-like accuracy.
//   q[row][K], r[row][K]       the two levels
//   d[row][K/32]               scale of q (r has d / 256)
//   corr16[row][K/16]          -128 * sum(256 q + r) over 16 inputs (offset of the u8 weight levels)
//   corr32[row][K/32]          the same over 32 inputs
//   qsum32[row][K/32]          d * sum(q + r / 256) over 32 inputs (for affine weights' mins)
struct ActQ8 {
  int64_t rows = 0;
  int64_t cols = 0;
  const int8_t* q = nullptr;
  const int8_t* r = nullptr;
  const float* d = nullptr;
  const int32_t* corr16 = nullptr;
  const int32_t* corr32 = nullptr;
  const float* qsum32 = nullptr;
  // Row strides in elements (q and r: bytes).
  int64_t q_stride = 0, d_stride = 0, corr16_stride = 0, corr32_stride = 0;
};

// y[c][r] (+)= sum_k W[r][k] * x[c][k] for row groups [g0, g1) and activation
// rows [c0, c1). Each output is computed by the same sequence of operations
// whatever the ranges, so results do not depend on batching or threading.
struct GemmTask {
  const PackedView* w = nullptr;
  int64_t g0 = 0, g1 = 0;
  int64_t c0 = 0, c1 = 0;
  const float* x = nullptr;  // float formats: x[c * x_stride + k]
  int64_t x_stride = 0;
  const ActQ8* xq = nullptr;  // int formats
  float* y = nullptr;         // y[c * y_stride + r]
  int64_t y_stride = 0;
  bool accumulate = false;    // add into y instead of overwriting
};

enum class KvElem : uint8_t { f32, f16 };

// Attention of `g` query heads that share one KV head, for one query token, over
// keys 0 .. n_keys-1 of a paged cache. Per logical block b of the sequence:
//   k_tiles[b]: [head_dim][block_size] keys transposed (column j = key j)
//   v_tiles[b]: [block_size][head_dim] values
// out[h][d] = sum_j softmax_j(scale * q[h] . k_j) * v_j[d].
struct AttnTask {
  const float* q = nullptr;  // [g][head_dim]
  int32_t g = 0;
  int32_t head_dim = 0;
  int32_t n_keys = 0;
  int32_t block_size = 0;
  KvElem elem = KvElem::f16;
  const void* const* k_tiles = nullptr;
  const void* const* v_tiles = nullptr;
  int64_t tile_offset = 0;  // bytes added to every tile pointer (one table serves every layer)
  float scale = 1.0f;
  float* scratch = nullptr;  // >= g * round_up(n_keys, block_size) + g * head_dim floats
  float* out = nullptr;      // [g][head_dim]
};

struct KernelTable {
  const char* name;
  void (*gemm)(const GemmTask& task);
  // Quantizes one row of `cols` floats (a multiple of 32) as ActQ8 describes.
  void (*quantize_row)(const float* x, int64_t cols, int8_t* q, int8_t* r, float* d, int32_t* corr16,
                       int32_t* corr32, float* qsum32);
  void (*attention)(const AttnTask& task);
  // out[i] = silu(gate[i]) * up[i]
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  // y[i] = x[i] as IEEE half, rounded to nearest even (the KV-cache stores).
  void (*to_f16)(const float* x, uint16_t* y, int64_t n);
  // RMSNorm of one row: y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; x and y
  // do not overlap.
  void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // RoPE in place on n_heads heads of head_dim floats (head h at x + h * head_dim),
  // the first n_rot dimensions of each: x'[i] = x[i] * c2[i] + x[p(i)] * s2[i],
  // where p(i) = i ^ 1 for adjacent pairs, else i +- n_rot / 2 (the two halves).
  // c2 holds each pair's cosine at both of its places, s2 its sine negated at
  // the first place of the pair and as is at the second.
  void (*rope)(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float* c2, const float* s2,
               bool adjacent);
};

// Per-ISA tables; nullptr when this build lacks the variant.
const KernelTable* kernel_table_scalar();
const KernelTable* kernel_table_avx2();
const KernelTable* kernel_table_avx512();

}  // namespace llmd::engine::cpu
