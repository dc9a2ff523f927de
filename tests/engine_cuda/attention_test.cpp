// Paged attention kernels against a naive float64 attention. Each case draws
// fresh random K/V/Q, scatters the sequences over random physical blocks,
// points every unused block-table entry at a "trap" block full of huge values
// (reading it would blow the result up), and poisons the outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/rope_kv.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::DevArray;
using test::cuda::download_as_f32;
using test::cuda::rel_error;
using test::cuda::Rng;

struct Shape {
  int n_head, n_head_kv, hd, bs;
  DType kv;
};

// Host model of a paged KV pool holding some sequences.
struct Pool {
  Shape s;
  int n_blocks = 0;
  int bt_stride = 0;
  int trap = 0;
  std::vector<int> seq_len;
  std::vector<int32_t> bt;     // [n_seqs][bt_stride]
  std::vector<float> k, v;     // [n_blocks][n_head_kv][bs][hd], values as stored (rounded)

  size_t idx(int seq, int pos, int kvh, int d) const {
    const int blk = bt[static_cast<size_t>(seq) * bt_stride + pos / s.bs];
    return ((static_cast<size_t>(blk) * s.n_head_kv + kvh) * s.bs + pos % s.bs) * s.hd + d;
  }
};

Pool make_pool(Rng& rng, const Shape& s, const std::vector<int>& seq_len) {
  Pool p;
  p.s = s;
  p.seq_len = seq_len;
  int need = 0, most = 0;
  for (int len : seq_len) {
    need += (len + s.bs - 1) / s.bs;
    most = std::max(most, (len + s.bs - 1) / s.bs);
  }
  p.n_blocks = need + 5;  // a few spare blocks, the last one is the trap
  p.trap = p.n_blocks - 1;
  p.bt_stride = most + 3;
  std::vector<int32_t> free_blocks(p.n_blocks - 1);
  for (int i = 0; i < p.n_blocks - 1; ++i) free_blocks[i] = i;
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng.gen());
  p.bt.assign(seq_len.size() * p.bt_stride, p.trap);
  size_t next = 0;
  for (size_t q = 0; q < seq_len.size(); ++q)
    for (int b = 0; b < (seq_len[q] + s.bs - 1) / s.bs; ++b) p.bt[q * p.bt_stride + b] = free_blocks[next++];
  const size_t block_elems = static_cast<size_t>(s.n_head_kv) * s.bs * s.hd;
  p.k.resize(p.n_blocks * block_elems);
  p.v.resize(p.n_blocks * block_elems);
  for (size_t i = 0; i < p.k.size(); ++i) {
    const bool trap = i / block_elems == static_cast<size_t>(p.trap);
    float kv = trap ? 30000.0f : rng.normal();
    float vv = trap ? 30000.0f : rng.normal();
    if (s.kv == DType::f16) {
      kv = test::cuda::round_f16(kv);
      vv = test::cuda::round_f16(vv);
    }
    p.k[i] = kv;
    p.v[i] = vv;
  }
  return p;
}

// Uploads K and V in the pool's storage type.
struct DevPool {
  DevArray<uint8_t> k, v;
  DevArray<int32_t> bt;
  bool upload(const Pool& p) {
    const size_t esz = p.s.kv == DType::f16 ? 2 : 4;
    std::vector<uint8_t> kb(p.k.size() * esz), vb(p.v.size() * esz);
    for (size_t i = 0; i < p.k.size(); ++i) {
      if (esz == 2) {
        __half hk = __float2half(p.k[i]), hv = __float2half(p.v[i]);
        std::memcpy(&kb[i * 2], &hk, 2);
        std::memcpy(&vb[i * 2], &hv, 2);
      } else {
        std::memcpy(&kb[i * 4], &p.k[i], 4);
        std::memcpy(&vb[i * 4], &p.v[i], 4);
      }
    }
    k.resize(kb.size());
    v.resize(vb.size());
    bt.resize(p.bt.size());
    if (!k.ok() || !v.ok() || !bt.ok()) return false;
    k.upload(kb);
    v.upload(vb);
    bt.upload(p.bt);
    return true;
  }
};

// out[row][h][d] for query rows (seq, pos); q [rows][n_head][hd].
std::vector<double> naive_attention(const Pool& p, const std::vector<float>& q, const std::vector<int32_t>& seq,
                                    const std::vector<int32_t>& pos, const std::vector<int>& rows, float scale) {
  const Shape& s = p.s;
  const int G = s.n_head / s.n_head_kv;
  std::vector<double> out;
  for (int r : rows) {
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / G;
      const float* qr = &q[(static_cast<size_t>(r) * s.n_head + h) * s.hd];
      std::vector<double> sc(pos[r] + 1);
      double mx = -INFINITY;
      for (int j = 0; j <= pos[r]; ++j) {
        double d = 0;
        for (int e = 0; e < s.hd; ++e) d += static_cast<double>(qr[e]) * p.k[p.idx(seq[r], j, kvh, e)];
        sc[j] = d * scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (auto& x : sc) sum += (x = std::exp(x - mx));
      for (int e = 0; e < s.hd; ++e) {
        double o = 0;
        for (int j = 0; j <= pos[r]; ++j) o += sc[j] * p.v[p.idx(seq[r], j, kvh, e)];
        out.push_back(o / sum);
      }
    }
  }
  return out;
}

AttnArgs base_args(const Pool& p, DevPool& dp, const float* q, const int32_t* pos, const int32_t* seq) {
  AttnArgs a;
  a.q = q;
  a.k_cache = dp.k.get();
  a.v_cache = dp.v.get();
  a.kv_type = p.s.kv;
  a.pos = pos;
  a.seq = seq;
  a.block_tables = dp.bt.get();
  a.bt_stride = p.bt_stride;
  a.n_head = p.s.n_head;
  a.n_head_kv = p.s.n_head_kv;
  a.head_dim = p.s.hd;
  a.block_size = p.s.bs;
  a.scale = 1.0f / std::sqrt(static_cast<float>(p.s.hd));
  return a;
}

TEST(CudaAttention, TokenKernelMatchesNaive) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const Shape shapes[] = {{32, 8, 128, 16, DType::f16}, {14, 2, 64, 32, DType::f16}, {8, 4, 8, 16, DType::f32},
                          {16, 1, 256, 16, DType::f16}, {4, 4, 32, 8, DType::f32}, {8, 4, 8, 16, DType::f16}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE("heads " + std::to_string(s.n_head) + "/" + std::to_string(s.n_head_kv) + " hd " +
                 std::to_string(s.hd) + " bs " + std::to_string(s.bs) + " kv " + dtype_name(s.kv));
    ASSERT_TRUE(attention_tokens_supported(s.hd, s.n_head, s.n_head_kv));
    const std::vector<int> lens = {1, 2, 17, 64, 65, 300, 1000, rng.range(1, 700)};
    Pool p = make_pool(rng, s, lens);
    DevPool dp;
    ASSERT_TRUE(dp.upload(p));
    // Token rows: every sequence's last position plus a few earlier ones; the
    // kernel sees them through a permuted index list.
    std::vector<int32_t> seq, pos;
    for (size_t i = 0; i < lens.size(); ++i) {
      seq.push_back(static_cast<int32_t>(i));
      pos.push_back(lens[i] - 1);
      seq.push_back(static_cast<int32_t>(i));
      pos.push_back(rng.range(0, lens[i] - 1));
    }
    const int n_rows = static_cast<int>(seq.size());
    std::vector<int32_t> list(n_rows);
    for (int i = 0; i < n_rows; ++i) list[i] = i;
    std::shuffle(list.begin(), list.end(), rng.gen());
    list.resize(n_rows - 3);  // rows left out must stay untouched
    std::vector<float> q = rng.normal_vec(static_cast<size_t>(n_rows) * s.n_head * s.hd);
    DevArray<float> d_q(q);
    DevArray<int32_t> d_seq(seq), d_pos(pos), d_list(list);
    ASSERT_TRUE(d_q.ok() && d_seq.ok() && d_pos.ok() && d_list.ok());
    const std::vector<int> rows(list.begin(), list.end());
    const std::vector<double> ref =
        naive_attention(p, q, seq, pos, rows, 1.0f / std::sqrt(static_cast<float>(s.hd)));
    int max_ctx = 0;
    for (int r : rows) max_ctx = std::max(max_ctx, pos[r] + 1);

    for (DType out_t : {DType::f32, DType::bf16}) {
      for (int n_splits : {1, 3, choose_attention_split(static_cast<int>(rows.size()), s.n_head_kv, max_ctx, 132,
                                                        4096).n_splits, 32}) {
        SCOPED_TRACE(std::string("out ") + dtype_name(out_t) + " splits " + std::to_string(n_splits));
        const int split_len = attention_split_len(max_ctx, n_splits);
        DevArray<int32_t> d_split(std::vector<int32_t>{split_len});
        DevArray<float> part_o(rows.size() * n_splits * s.n_head * s.hd), part_ml(rows.size() * n_splits * s.n_head * 2);
        DevArray<uint8_t> d_out(static_cast<size_t>(n_rows) * s.n_head * s.hd * dtype_size(out_t));
        ASSERT_TRUE(d_split.ok() && part_o.ok() && part_ml.ok() && d_out.ok());
        part_o.poison();
        part_ml.poison();
        d_out.poison();
        AttnArgs a = base_args(p, dp, d_q.get(), d_pos.get(), d_seq.get());
        a.out = d_out.get();
        a.out_type = out_t;
        CUDA_OK(launch_attention_tokens(a, d_list.get(), static_cast<int>(rows.size()), n_splits, d_split.get(),
                                        part_o.get(), part_ml.get(), nullptr));
        CUDA_OK(cudaDeviceSynchronize());
        const auto all = download_as_f32(d_out, out_t);
        std::vector<float> got;
        const size_t row_elems = static_cast<size_t>(s.n_head) * s.hd;
        for (int r : rows) got.insert(got.end(), all.begin() + r * row_elems, all.begin() + (r + 1) * row_elems);
        const double err = rel_error(ref, got);
        EXPECT_LT(err, out_t == DType::f32 ? 1e-5 : 1e-2) << "relative error " << err;
        // Rows not in the list are still poison.
        std::vector<bool> listed(n_rows, false);
        for (int r : rows) listed[r] = true;
        size_t touched = 0;
        for (int r = 0; r < n_rows; ++r)
          if (!listed[r])
            for (size_t e = 0; e < row_elems; ++e) touched += !std::isnan(all[r * row_elems + e]);
        EXPECT_EQ(touched, 0u);
      }
    }
  }
}

// Decode tokens (one per sequence, at its last position) with RoPE and the
// K/V store done inside the attention kernel give the same bits, in the
// output and in the cache, as rope_kv followed by the attention: full and
// partial rotary dims, both pair layouts, with and without bias, f16 and f32
// caches, whole and split key ranges.
TEST(CudaAttention, TokenKernelWithFusedRopeEqualsRopeKvFirst) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const Shape shapes[] = {{32, 8, 128, 16, DType::f16}, {14, 2, 64, 32, DType::f32}, {8, 4, 8, 16, DType::f16},
                          {16, 1, 256, 16, DType::f16}};
  for (const Shape& s : shapes) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool neox = variant & 1;
      const bool bias = variant & 2;
      const int rope_dim = variant == 3 ? s.hd / 2 : s.hd;
      SCOPED_TRACE("heads " + std::to_string(s.n_head) + "/" + std::to_string(s.n_head_kv) + " hd " +
                   std::to_string(s.hd) + " kv " + dtype_name(s.kv) + (neox ? " neox" : " pairs") +
                   (bias ? " bias" : "") + " rope_dim " + std::to_string(rope_dim));
      const std::vector<int> lens = {1, 16, 17, 300, rng.range(1, 900)};
      const Pool p = make_pool(rng, s, lens);
      const int n = static_cast<int>(lens.size());
      std::vector<int32_t> seq(n), pos(n);
      int max_ctx = 0;
      for (int i = 0; i < n; ++i) {
        seq[i] = i;
        pos[i] = lens[i] - 1;
        max_ctx = std::max(max_ctx, lens[i]);
      }
      const int width = (s.n_head + 2 * s.n_head_kv) * s.hd;
      const std::vector<float> qkv = rng.normal_vec(static_cast<size_t>(n) * width);
      const std::vector<float> b = rng.normal_vec(static_cast<size_t>(width), 0.5f);
      const int half = rope_dim / 2;
      std::vector<float> cs(static_cast<size_t>(max_ctx) * std::max(half, 1) * 2);
      for (int q = 0; q < max_ctx; ++q)
        for (int i = 0; i < half; ++i) {
          const double ang = q * std::pow(10000.0, -2.0 * i / rope_dim);
          cs[(static_cast<size_t>(q) * half + i) * 2] = static_cast<float>(std::cos(ang));
          cs[(static_cast<size_t>(q) * half + i) * 2 + 1] = static_cast<float>(std::sin(ang));
        }
      DevArray<float> d_qkv(qkv), d_bias(b), d_cs(cs), d_q(static_cast<size_t>(n) * s.n_head * s.hd);
      DevArray<int32_t> d_seq(seq), d_pos(pos);
      ASSERT_TRUE(d_qkv.ok() && d_bias.ok() && d_cs.ok() && d_q.ok() && d_seq.ok() && d_pos.ok());
      for (int n_splits : {1, 3, 32}) {
        SCOPED_TRACE("splits " + std::to_string(n_splits));
        DevArray<int32_t> d_split(std::vector<int32_t>{attention_split_len(max_ctx, n_splits)});
        DevArray<float> part_o(static_cast<size_t>(n) * n_splits * s.n_head * s.hd);
        DevArray<float> part_ml(static_cast<size_t>(n) * n_splits * s.n_head * 2);
        ASSERT_TRUE(d_split.ok() && part_o.ok() && part_ml.ok());
        // Returns the output, K and V after one of the two ways.
        auto run = [&](bool fused) {
          DevPool dp;
          EXPECT_TRUE(dp.upload(p));
          DevArray<float> out(static_cast<size_t>(n) * s.n_head * s.hd);
          out.poison();
          AttnArgs a = base_args(p, dp, d_q.get(), d_pos.get(), d_seq.get());
          a.out = out.get();
          a.out_type = DType::f32;
          if (fused) {
            a.q = nullptr;  // not read
            a.rope = {d_qkv.get(), bias ? d_bias.get() : nullptr, d_cs.get(), rope_dim, neox};
          } else {
            RopeKvArgs r;
            r.qkv = d_qkv.get();
            r.bias = bias ? d_bias.get() : nullptr;
            r.pos = d_pos.get();
            r.seq = d_seq.get();
            r.block_tables = dp.bt.get();
            r.bt_stride = p.bt_stride;
            r.rope_cs = d_cs.get();
            r.q_out = d_q.get();
            r.k_cache = dp.k.get();
            r.v_cache = dp.v.get();
            r.kv_type = s.kv;
            r.n_tokens = n;
            r.n_head = s.n_head;
            r.n_head_kv = s.n_head_kv;
            r.head_dim = s.hd;
            r.rope_dim = rope_dim;
            r.block_size = s.bs;
            r.neox = neox;
            EXPECT_EQ(launch_rope_kv(r, nullptr), cudaSuccess);
          }
          EXPECT_EQ(launch_attention_tokens(a, nullptr, n, n_splits, d_split.get(), part_o.get(), part_ml.get(),
                                            nullptr),
                    cudaSuccess);
          EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
          return std::make_tuple(out.download(), dp.k.download(), dp.v.download());
        };
        const auto [out_a, k_a, v_a] = run(false);
        const auto [out_b, k_b, v_b] = run(true);
        EXPECT_EQ(out_a, out_b) << "attention output";
        EXPECT_EQ(k_a, k_b) << "K cache";
        EXPECT_EQ(v_a, v_b) << "V cache";
        size_t nan_out = 0;
        for (float x : out_b) nan_out += std::isnan(x);
        EXPECT_EQ(nan_out, 0u);
      }
    }
  }
}

TEST(CudaAttention, PrefillKernelMatchesNaive) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const Shape shapes[] = {{32, 8, 128, 16, DType::f16}, {12, 2, 64, 32, DType::f16}, {8, 8, 128, 8, DType::f16}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE("heads " + std::to_string(s.n_head) + "/" + std::to_string(s.n_head_kv) + " hd " +
                 std::to_string(s.hd) + " bs " + std::to_string(s.bs));
    // Chunks (history, new tokens): first chunks, continued chunks, single tokens.
    struct Chunk {
      int pos0, n;
    };
    std::vector<Chunk> chunks = {{0, 1},    {0, 17},  {0, 64},   {0, 130}, {37, 1},
                                 {100, 64}, {64, 65}, {500, 200}, {rng.range(0, 300), rng.range(1, 150)}};
    std::vector<int> lens;
    for (const auto& c : chunks) lens.push_back(c.pos0 + c.n + rng.range(0, 40));  // cache may hold more
    Pool p = make_pool(rng, s, lens);
    DevPool dp;
    ASSERT_TRUE(dp.upload(p));
    std::vector<int32_t> seq, pos;
    std::vector<AttnTile> tiles;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const int tok0 = static_cast<int>(seq.size());
      for (int j = 0; j < chunks[i].n; ++j) {
        seq.push_back(static_cast<int32_t>(i));
        pos.push_back(chunks[i].pos0 + j);
      }
      for (int j = 0; j < chunks[i].n; j += 64) {
        tiles.push_back({tok0 + j, std::min(64, chunks[i].n - j), static_cast<int32_t>(i), chunks[i].pos0 + j});
      }
    }
    std::sort(tiles.begin(), tiles.end(),
              [](const AttnTile& a, const AttnTile& b) { return a.pos0 + a.n_rows > b.pos0 + b.n_rows; });
    const int n_rows = static_cast<int>(seq.size());
    std::vector<float> q = rng.normal_vec(static_cast<size_t>(n_rows) * s.n_head * s.hd, 1.5f);
    std::vector<int> rows(n_rows);
    for (int i = 0; i < n_rows; ++i) rows[i] = i;
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.hd));
    const std::vector<double> ref = naive_attention(p, q, seq, pos, rows, scale);
    DevArray<float> d_q(q);
    DevArray<int32_t> d_seq(seq), d_pos(pos);
    DevArray<AttnTile> d_tiles(tiles);
    ASSERT_TRUE(d_q.ok() && d_seq.ok() && d_pos.ok() && d_tiles.ok());
    for (DType out_t : {DType::bf16, DType::f16}) {
      SCOPED_TRACE(std::string("out ") + dtype_name(out_t));
      ASSERT_TRUE(attention_prefill_supported(s.hd, s.kv, out_t));
      DevArray<uint8_t> d_out(static_cast<size_t>(n_rows) * s.n_head * s.hd * 2);
      ASSERT_TRUE(d_out.ok());
      AttnArgs a = base_args(p, dp, d_q.get(), d_pos.get(), d_seq.get());
      a.out = d_out.get();
      a.out_type = out_t;
      // Every variant (buffering, block order) against the reference, and
      // bit for bit against the default one: they do the same arithmetic.
      std::vector<uint8_t> first;
      for (const bool dbl : {true, false}) {
        for (const bool major : {true, false}) {
          SCOPED_TRACE(std::string(dbl ? "double-buffered" : "single-buffered") + (major ? ", tile-major" : ", head-major"));
          PrefillVariant v;
          v.double_buffered = dbl;
          v.tile_major = major;
          auto launch = [&] {
            d_out.poison();
            CUDA_OK(launch_attention_prefill(a, d_tiles.get(), static_cast<int>(tiles.size()), nullptr, v));
            CUDA_OK(cudaDeviceSynchronize());
          };
          launch();
          const double err = rel_error(ref, download_as_f32(d_out, out_t));
          std::printf("prefill hd %d heads %d/%d out %s %s%s: relative error %.2e\n", s.hd, s.n_head, s.n_head_kv,
                      dtype_name(out_t), dbl ? "double" : "single", major ? " tile-major" : " head-major", err);
          EXPECT_LT(err, 1e-2);
          const auto out = d_out.download();
          if (first.empty()) {
            first = out;
          } else {
            EXPECT_EQ(first, out) << "differs from the default variant";
          }
          // Run again on the same input: a moving result would mean a race.
          launch();
          EXPECT_EQ(out, d_out.download()) << "results differ between two identical runs";
        }
      }
    }
  }
  EXPECT_FALSE(attention_prefill_supported(96, DType::f16, DType::bf16));
  EXPECT_FALSE(attention_prefill_supported(128, DType::f32, DType::bf16));
}

}  // namespace
}  // namespace llmd::engine::cuda
