// The quantized matrix-matrix kernel's algorithm (gemm_quant.hpp) for one
// block's tile, written against a thread-block policy B so that the same
// source runs in the CUDA kernel (gemm_quant.cu: B = the real block, cp.async,
// ldmatrix and mma.sync) and on the host in a test (B = threads with
// barriers that exchange the warp's fragments as the tensor core would),
// which checks the tiling, the fragment addressing and the decoding in CI.
//
// A tile is kQmmRows weight rows by kQmmTokens tokens. For each chunk of
// kQmmK columns the block copies the tokens' activations into shared memory,
// decodes the rows' quantized units into 16-bit weights of the activations'
// type (the functions of engine/quant/device_units.hpp, so a weight is
// dequantize_device_row's value rounded once), and each of the four warps
// multiplies its 16 rows by the 64 tokens with m16n8k16 MMAs, accumulating in
// f32. Quantized bytes are read once per token tile: a decode batch of up to
// 64 tokens reads each weight once, like the GEMV, with the products on the
// tensor cores.
//
// B provides: kThreads == kQmmThreads; tid(); sync() (a barrier of the whole
// block, making earlier shared-memory writes visible); copy16(smem, gmem,
// valid) (16 bytes, or 16 zero bytes when !valid, gmem then unread) and
// copy_wait() (every copy16 of this thread done; a sync() follows);
// to_elem(float) (the activations' 16-bit type, rounded to nearest even);
// ldmatrix_x4(r, smem) and mma(c, a, b0, b1) with the fragment layouts of
// mma.cuh (whole-warp operations); a type Load (quantized bytes, as in
// device_units.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/quant/device_units.hpp"

#if defined(__CUDACC__)
#define LLMD_QMM_FN __device__ __forceinline__
#define LLMD_QMM_UNROLL _Pragma("unroll")
#else
#define LLMD_QMM_FN inline
#define LLMD_QMM_UNROLL
#endif

namespace llmd::engine::cuda {

constexpr int kQmmRows = 64;      // weight rows per tile: 16 per warp
constexpr int kQmmTokens = 64;    // tokens per tile: eight 8-token MMA columns per warp
constexpr int kQmmK = 128;        // columns per shared-memory chunk (a multiple of every unit's span)
constexpr int kQmmThreads = 128;  // four warps
// Shared rows are 272 bytes apart, so the eight 16-byte rows of an ldmatrix
// fall in distinct banks.
constexpr int kQmmLds = kQmmK + 8;

// 34,816 bytes: under the 48 KB a block gets without opting in.
struct alignas(16) QmmShared {
  uint32_t w[kQmmRows * kQmmLds / 2];    // weights: [row][column] pairs of 16-bit values
  uint32_t x[kQmmTokens * kQmmLds / 2];  // activations: [token][column]
};

// A whole product: y[t * ldy + r] = W[r] . x[t] (or += with accumulate).
struct QmmProduct {
  const uint8_t* w = nullptr;  // the matrix in the device layout
  quant::PlaneOffsets planes;
  int rows = 0;
  int k = 0;                    // a multiple of kQmmK and of the type's block
  const uint16_t* x = nullptr;  // [n_tokens][k] 16-bit activations, rows 16-byte aligned
  int n_tokens = 0;
  float* y = nullptr;
  size_t ldy = 0;  // >= rows
  bool accumulate = false;
};

// One block's work: tile (row_tile, tok_tile) of product p over the column
// chunks [kc_begin, kc_end). With splits, p is the whole product with its
// output redirected to the split's plane of partial sums.
struct QmmTile {
  QmmProduct p;
  int row_tile = 0;
  int tok_tile = 0;
  int kc_begin = 0;
  int kc_end = 0;
};

// Column chunks [begin, end) of split s of n over `chunks` chunks: as even as
// whole chunks allow.
LLMD_QMM_FN int qmm_split_begin(int s, int n_splits, int chunks) {
  return static_cast<int>(static_cast<int64_t>(s) * chunks / n_splits);
}

// Block (row_tile, tok_tile, split) of product p cut into n_splits column
// splits: without splits it writes p.y; with them, split's plane of
// `partial` ([split][n_tokens][rows], added up by qmm_reduce_one).
LLMD_QMM_FN QmmTile qmm_tile(const QmmProduct& p, int row_tile, int tok_tile, int split, int n_splits,
                             float* partial) {
  QmmTile t;
  t.p = p;
  t.row_tile = row_tile;
  t.tok_tile = tok_tile;
  t.kc_begin = qmm_split_begin(split, n_splits, p.k / kQmmK);
  t.kc_end = qmm_split_begin(split + 1, n_splits, p.k / kQmmK);
  if (n_splits > 1) {
    t.p.y = partial + static_cast<size_t>(split) * static_cast<size_t>(p.n_tokens) * static_cast<size_t>(p.rows);
    t.p.ldy = static_cast<size_t>(p.rows);
    t.p.accumulate = false;
  }
  return t;
}

// The tile as the block computes it. Every thread of the block calls it.
template <class U, class B>
LLMD_QMM_FN void qmm_block(const B& blk, const QmmTile& tile, QmmShared& sh) {
  static_assert(B::kThreads == kQmmThreads, "four warps");
  static_assert(kQmmK % U::kWeights == 0 && kQmmK % 32 == 0, "a chunk holds whole units");
  constexpr int kUnitsPerRow = kQmmK / U::kWeights;  // per chunk
  constexpr int kPieces = kQmmK / 8;                 // 16-byte pieces of a chunk's activation row
  const int tid = blk.tid(), warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t4 = lane & 3;
  const int row0 = tile.row_tile * kQmmRows, tok0 = tile.tok_tile * kQmmTokens;
  const size_t k = static_cast<size_t>(tile.p.k);

  float acc[8][4];
  LLMD_QMM_UNROLL
  for (int n = 0; n < 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;

  for (int kc = tile.kc_begin; kc < tile.kc_end; ++kc) {
    const int col0 = kc * kQmmK;
    // The activations, copied while the weights are decoded.
    for (int i = tid; i < kQmmTokens * kPieces; i += kQmmThreads) {
      const int tok = i / kPieces, piece = i % kPieces;
      const bool valid = tok0 + tok < tile.p.n_tokens;
      const uint16_t* src = tile.p.x + static_cast<size_t>(valid ? tok0 + tok : 0) * k + col0 + 8 * piece;
      blk.copy16(&sh.x[(tok * kQmmLds + 8 * piece) / 2], src, valid);
    }
    // The weights: thread i decodes unit i % kUnitsPerRow of row i / kUnitsPerRow,
    // storing consecutive columns in pairs (groups start at even columns).
    for (int i = tid; i < kQmmRows * kUnitsPerRow; i += kQmmThreads) {
      const int r = i / kUnitsPerRow, uc = i % kUnitsPerRow;
      uint32_t* dst = &sh.w[r * kQmmLds / 2];
      if (row0 + r < tile.p.rows) {
        uint32_t lo = 0;
        quant::dequantize_unit<U, typename B::Load>(
            tile.p.w, tile.p.planes, row0 + r, tile.p.k, static_cast<int64_t>(kc) * kUnitsPerRow + uc,
            [&](int64_t col, float v) {
              const uint32_t e = blk.to_elem(v);
              const int c = static_cast<int>(col) - col0;
              if ((c & 1) == 0) lo = e;
              else dst[c >> 1] = lo | (e << 16);
            });
      } else if (uc == 0) {
        for (int c = 0; c < kQmmK / 2; ++c) dst[c] = 0;  // rows past the matrix multiply to nothing kept
      }
    }
    blk.copy_wait();
    blk.sync();

    const char* wbase = reinterpret_cast<const char*>(sh.w);
    const char* xbase = reinterpret_cast<const char*>(sh.x);
    // Lane l addresses row (l & 7) + 8 * ((l >> 3) & 1) of the warp's 16,
    // column 8 * (l >> 4): the four 8x8 matrices of the A fragment.
    const int arow = 16 * warp + (lane & 7) + 8 * ((lane >> 3) & 1);
    const int acol = 8 * (lane >> 4);
    // For a pair of 8-token columns: token (l & 7) + 8 * (l >> 4), column
    // 8 * ((l >> 3) & 1): b0, b1 of the first, then of the second.
    const int brow = (lane & 7) + 8 * (lane >> 4);
    const int bcol = 8 * ((lane >> 3) & 1);
    LLMD_QMM_UNROLL
    for (int kk = 0; kk < kQmmK; kk += 16) {
      uint32_t a[4];
      blk.ldmatrix_x4(a, wbase + 2 * (arow * kQmmLds + kk + acol));
      LLMD_QMM_UNROLL
      for (int np = 0; np < 4; ++np) {
        uint32_t b[4];
        blk.ldmatrix_x4(b, xbase + 2 * ((16 * np + brow) * kQmmLds + kk + bcol));
        blk.mma(acc[2 * np], a, b[0], b[1]);
        blk.mma(acc[2 * np + 1], a, b[2], b[3]);
      }
    }
    blk.sync();  // the chunk's shared memory is the next one's
  }

  // c0, c1: row g, tokens 2t4, 2t4 + 1 of the 8-token column; c2, c3: row g + 8.
  LLMD_QMM_UNROLL
  for (int n = 0; n < 8; ++n) {
    LLMD_QMM_UNROLL
    for (int i = 0; i < 4; ++i) {
      const int row = row0 + 16 * warp + g + 8 * (i >> 1);
      const int tok = tok0 + 8 * n + 2 * t4 + (i & 1);
      if (row < tile.p.rows && tok < tile.p.n_tokens) {
        float* o = tile.p.y + static_cast<size_t>(tok) * tile.p.ldy + static_cast<size_t>(row);
        *o = tile.p.accumulate ? *o + acc[n][i] : acc[n][i];
      }
    }
  }
}


// Output (token, row) of a product cut into splits: the partials added in
// split order, then stored in y or added to it.
LLMD_QMM_FN void qmm_reduce_one(const QmmProduct& p, const float* partial, int n_splits, int tok, int row) {
  const size_t plane = static_cast<size_t>(p.n_tokens) * static_cast<size_t>(p.rows);
  const size_t at = static_cast<size_t>(tok) * static_cast<size_t>(p.rows) + static_cast<size_t>(row);
  float s = partial[at];
  for (int i = 1; i < n_splits; ++i) s += partial[static_cast<size_t>(i) * plane + at];
  float* o = p.y + static_cast<size_t>(tok) * p.ldy + static_cast<size_t>(row);
  *o = p.accumulate ? *o + s : s;
}

}  // namespace llmd::engine::cuda

#undef LLMD_QMM_FN
#undef LLMD_QMM_UNROLL
