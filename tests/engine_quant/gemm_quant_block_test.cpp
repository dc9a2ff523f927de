// The quantized matrix-matrix kernel's algorithm (engine/cuda/kernels/
// gemm_quant_block.hpp) run on the host: a block of 128 threads with barriers
// stands in for the GPU's, and its warps' ldmatrix and mma.sync exchange
// their registers through shared slots exactly as the fragment layouts of
// mma.cuh say the hardware does. So CI checks the kernel's own source — the
// tiling, the split of columns, the decoding into shared memory, every
// fragment address, the epilogue and the reduction of splits — against a
// float64 product of the same rounded weights and activations, for every
// quantized type, both activation types, store and accumulate, partial tiles
// of rows and tokens and several splits. What this cannot check is CUDA
// itself (cp.async, the tensor cores' own rounding, launch limits): that is
// the GPU test's part (tests/engine_cuda/gemm_quant_test.cpp).
#include "engine/cuda/kernels/gemm_quant_block.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/quant/dequantize.hpp"
#include "engine/quant/device_layout.hpp"
#include "engine/quant/fp16.hpp"
#include "tests/engine_quant/random_blocks.hpp"

namespace llmd::engine::cuda {
namespace {

using gguf::GgmlType;

struct HostLoad {
  static void load16(const uint8_t* p, uint32_t out[4]) { std::memcpy(out, p, 16); }
  static void load8(const uint8_t* p, uint32_t out[2]) { std::memcpy(out, p, 8); }
  static uint32_t load2(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
};

float elem_value(uint32_t bits, bool bf16) {
  return bf16 ? quant::bf16_to_f32(static_cast<uint16_t>(bits)) : quant::f16_to_f32(static_cast<uint16_t>(bits));
}

// Four warps of 32 threads. A warp-wide operation publishes each lane's
// registers in a slot, waits for the warp, and computes the lane's result
// from the slots. Slots alternate between two sets: a lane writes a set again
// only after every lane of its warp has passed the barrier that follows its
// last read of it.
template <bool kBf16>
struct HostQmmBlock {
  static constexpr int kThreads = kQmmThreads;
  using Load = HostLoad;
  struct Slot {
    const char* addr = nullptr;
    uint32_t a[4] = {};
    uint32_t b[2] = {};
  };
  struct Team {
    std::barrier<> all{kThreads};
    std::barrier<> w0{32}, w1{32}, w2{32}, w3{32};
    Slot slots[2][kThreads];
    std::barrier<>& warp(int t) { return t < 64 ? (t < 32 ? w0 : w1) : (t < 96 ? w2 : w3); }
  };
  Team* team;
  int t;
  mutable int phase = 0;

  int tid() const { return t; }
  void sync() const { team->all.arrive_and_wait(); }
  void copy16(void* smem, const void* gmem, bool valid) const {
    if (valid) std::memcpy(smem, gmem, 16);
    else std::memset(smem, 0, 16);
  }
  void copy_wait() const {}
  uint32_t to_elem(float v) const { return kBf16 ? quant::f32_to_bf16(v) : quant::f32_to_f16(v); }

  // Lanes 8i .. 8i + 7 give the rows of matrix i; register i gets
  // (row g, columns 2t, 2t + 1) of it.
  void ldmatrix_x4(uint32_t r[4], const void* smem) const {
    Slot* s = team->slots[phase];
    s[t].addr = static_cast<const char*>(smem);
    team->warp(t).arrive_and_wait();
    const int base = t & ~31, lane = t & 31, g = lane >> 2, t4 = lane & 3;
    for (int i = 0; i < 4; ++i) std::memcpy(&r[i], s[base + 8 * i + g].addr + 4 * t4, 4);
    phase ^= 1;
  }

  // c += A B for the warp's 16x16 A and 16x8 B (mma.cuh's layouts), each of
  // this lane's four outputs summed in float over k in order.
  void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) const {
    Slot* s = team->slots[phase];
    std::memcpy(s[t].a, a, sizeof s[t].a);
    s[t].b[0] = b0;
    s[t].b[1] = b1;
    team->warp(t).arrive_and_wait();
    const int base = t & ~31, lane = t & 31, g = lane >> 2, t4 = lane & 3;
    auto half_of = [](uint32_t reg, int kx) { return (reg >> (16 * (kx & 1))) & 0xffffu; };
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i >> 1), col = 2 * t4 + (i & 1);
      float sum = 0.0f;
      for (int kx = 0; kx < 16; ++kx) {
        const Slot& sa = s[base + (row & 7) * 4 + ((kx & 7) >> 1)];
        const Slot& sb = s[base + col * 4 + ((kx & 7) >> 1)];
        const float av = elem_value(half_of(sa.a[(row >> 3) + 2 * (kx >> 3)], kx), kBf16);
        const float bv = elem_value(half_of(sb.b[kx >> 3], kx), kBf16);
        sum += av * bv;
      }
      c[i] += sum;
    }
    phase ^= 1;
  }
};

// Every block of the grid (row tiles x token tiles x splits), one after
// another on the same 128 threads and shared memory, then the reduction.
template <class U, bool kBf16>
void run_grid(const QmmProduct& p, int n_splits, std::vector<float>& partial) {
  const int row_tiles = (p.rows + kQmmRows - 1) / kQmmRows;
  const int tok_tiles = (p.n_tokens + kQmmTokens - 1) / kQmmTokens;
  if (n_splits > 1) partial.assign(static_cast<size_t>(n_splits) * p.n_tokens * p.rows, NAN);
  auto team = std::make_unique<typename HostQmmBlock<kBf16>::Team>();
  auto sh = std::make_unique<QmmShared>();
  std::vector<std::thread> threads;
  for (int tid = 0; tid < kQmmThreads; ++tid) {
    threads.emplace_back([&, tid] {
      const HostQmmBlock<kBf16> blk{team.get(), tid};
      for (int z = 0; z < n_splits; ++z) {
        for (int ty = 0; ty < tok_tiles; ++ty) {
          for (int rx = 0; rx < row_tiles; ++rx) {
            qmm_block<U>(blk, qmm_tile(p, rx, ty, z, n_splits, partial.data()), *sh);
            blk.sync();
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  if (n_splits > 1) {
    for (int tok = 0; tok < p.n_tokens; ++tok) {
      for (int row = 0; row < p.rows; ++row) qmm_reduce_one(p, partial.data(), n_splits, tok, row);
    }
  }
}

struct Case {
  GgmlType type;
  bool bf16;
  int rows, k, n_tokens, n_splits;
  bool accumulate;
};

std::string describe(const Case& c) {
  return std::string(gguf::ggml_type_name(c.type)) + (c.bf16 ? " bf16" : " f16") + " rows " + std::to_string(c.rows) +
         " k " + std::to_string(c.k) + " tokens " + std::to_string(c.n_tokens) + " splits " +
         std::to_string(c.n_splits) + (c.accumulate ? " accumulate" : " store");
}

// 16-byte aligned storage, as cudaMalloc gives it.
struct alignas(16) Piece {
  uint8_t b[16];
};

struct Errors {
  double rounded = 0;  // against the 16-bit weights and activations the tensor cores multiply
  double raw = 0;      // against the weights as dequantize_device_row gives them
};

// Worst error of the outputs relative to sum |w x| of each, against float64
// products.
template <class U, bool kBf16>
Errors run_case(const Case& c, std::mt19937_64& rng) {
  const std::vector<uint8_t> file = test::random_blocks(c.type, c.rows, c.k, rng);
  auto layout = quant::device_layout(c.type, c.rows, c.k);
  EXPECT_TRUE(layout) << layout.error().message;
  if (!layout) return {INFINITY, INFINITY};
  std::vector<Piece> wbuf((layout->total_bytes + 15) / 16);
  auto* wbytes = reinterpret_cast<uint8_t*>(wbuf.data());
  quant::to_device_layout(*layout, file.data(), wbytes);
  std::vector<float> w(static_cast<size_t>(c.rows) * c.k);
  for (int r = 0; r < c.rows; ++r) quant::dequantize_device_row(*layout, wbytes, r, w.data() + static_cast<size_t>(r) * c.k);

  const HostQmmBlock<kBf16> conv{nullptr, 0};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<Piece> xbuf((static_cast<size_t>(c.n_tokens) * c.k * 2 + 15) / 16);
  auto* x = reinterpret_cast<uint16_t*>(xbuf.data());
  std::vector<float> xf(static_cast<size_t>(c.n_tokens) * c.k);
  for (size_t i = 0; i < xf.size(); ++i) {
    x[i] = static_cast<uint16_t>(conv.to_elem(normal(rng)));
    xf[i] = elem_value(x[i], kBf16);
  }
  const size_t ldy = static_cast<size_t>(c.rows) + 3;  // a wider output, as the split-part projections write
  std::vector<float> y(static_cast<size_t>(c.n_tokens) * ldy);
  for (float& v : y) v = normal(rng);
  const std::vector<float> y0 = y;

  QmmProduct p;
  p.w = wbytes;
  p.planes = quant::plane_offsets(*layout);
  p.rows = c.rows;
  p.k = c.k;
  p.x = x;
  p.n_tokens = c.n_tokens;
  p.y = y.data();
  p.ldy = ldy;
  p.accumulate = c.accumulate;
  std::vector<float> partial;
  run_grid<U, kBf16>(p, c.n_splits, partial);

  Errors e;
  for (int t = 0; t < c.n_tokens; ++t) {
    for (int r = 0; r < c.rows; ++r) {
      double s = 0, s_raw = 0, mag = 0;
      for (int i = 0; i < c.k; ++i) {
        const float wv = w[static_cast<size_t>(r) * c.k + i];
        const double xv = xf[static_cast<size_t>(t) * c.k + i];
        s += elem_value(conv.to_elem(wv), kBf16) * xv;
        s_raw += wv * xv;
        mag += std::fabs(wv * xv);
      }
      const size_t o = static_cast<size_t>(t) * ldy + r;
      const double base = c.accumulate ? y0[o] : 0.0;
      const double got = y[o];
      e.rounded = std::max(e.rounded, std::isfinite(got) ? std::fabs(got - base - s) / mag : INFINITY);
      e.raw = std::max(e.raw, std::isfinite(got) ? std::fabs(got - base - s_raw) / mag : INFINITY);
    }
    for (size_t r = static_cast<size_t>(c.rows); r < ldy; ++r) {  // the row stride's padding is left alone
      EXPECT_EQ(y[static_cast<size_t>(t) * ldy + r], y0[static_cast<size_t>(t) * ldy + r]);
    }
  }
  return e;
}

template <class U>
void run_type(GgmlType type) {
  std::mt19937_64 rng(0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(type));
  const int b = quant::block_elems(type);
  const int k1 = b > kQmmK ? b : kQmmK;  // one chunk, or one super-block of two
  const std::vector<Case> cases = {
      {type, false, 64, k1, 64, 1, false},       // one whole tile
      {type, false, 70, 2 * k1, 9, 1, true},     // a partial row tile, few tokens, accumulate
      {type, true, 37, 2 * k1, 70, 2, false},    // bf16, two token tiles, two splits
      {type, false, 130, 4 * kQmmK, 17, 3, true},  // uneven splits of four chunks, accumulate
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    const Errors e = c.bf16 ? run_case<U, true>(c, rng) : run_case<U, false>(c, rng);
    // Float sums of 16 products added to float accumulators: far below
    // 1e-5 of sum |w x|; a misplaced fragment, column or split moves an
    // output by a sizeable part of it.
    EXPECT_LE(e.rounded, 1e-5);
    // The weights rounded once to 16 bits: the GPU tests' bound.
    EXPECT_LE(e.raw, 2e-3);
  }
}

TEST(GemmQuantBlock, Q8_0MatchesFloat64Products) { run_type<quant::UnitQ8_0>(GgmlType::Q8_0); }
TEST(GemmQuantBlock, Q4_0MatchesFloat64Products) { run_type<quant::UnitQ4_0>(GgmlType::Q4_0); }
TEST(GemmQuantBlock, Q4_KMatchesFloat64Products) { run_type<quant::UnitQ4_K>(GgmlType::Q4_K); }
TEST(GemmQuantBlock, Q5_KMatchesFloat64Products) { run_type<quant::UnitQ5_K>(GgmlType::Q5_K); }
TEST(GemmQuantBlock, Q6_KMatchesFloat64Products) { run_type<quant::UnitQ6_K>(GgmlType::Q6_K); }

// The splits cover every chunk once, in order, as evenly as whole chunks go.
TEST(GemmQuantBlock, SplitsCoverEveryChunkOnce) {
  for (int chunks = 1; chunks <= 40; ++chunks) {
    for (int n = 1; n <= chunks; ++n) {
      int covered = 0;
      for (int s = 0; s < n; ++s) {
        const int b = qmm_split_begin(s, n, chunks), e = qmm_split_begin(s + 1, n, chunks);
        EXPECT_EQ(b, covered);
        EXPECT_GE(e - b, chunks / n);
        EXPECT_LE(e - b, chunks / n + 1);
        covered = e;
      }
      EXPECT_EQ(covered, chunks);
    }
  }
}

}  // namespace
}  // namespace llmd::engine::cuda
