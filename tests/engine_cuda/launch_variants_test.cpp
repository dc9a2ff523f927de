// Backend options that change how kernels run, not what they compute.
//
// Programmatic dependent launch changes when kernels start: with it on, every
// output must equal a plain launch bit for bit:
// prefill chunks (tiled attention, cuBLASLt, SwiGLU), a batch mixing prefill
// and decode, decode steps eager and replayed from graphs (attention split
// over several blocks and merged), decode steps of one to four sequences (the
// GEMV kernels), and device sampling. A missing wait in a kernel
// shows up here as a difference (reads of a buffer its predecessor is still
// writing).
//
// RoPE and the K/V store moved into the decode attention do the same
// arithmetic: decode logits equal the separate kernels' bit for bit.
//
// The RMSNorm fused into the GEMVs keeps the normalised activations in f32
// instead of rounding them to 16 bits: decode logits agree with the separate
// norm to within that rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "engine/cuda/cuda_backend.hpp"
#include "tests/engine_cuda/backend_fixtures.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::Rng;
using namespace test_fixtures;

constexpr int kBlocksPerSeq = 24;  // 384 positions at block size 16

struct Pair {
  std::unique_ptr<CudaBackend> plain;
  std::unique_ptr<CudaBackend> pdl;
};

Pair make_pair(const Model& m, bool graphs, int n_seqs) {
  CudaBackendOptions a, b;
  a.cuda_graphs = b.cuda_graphs = graphs;
  // Tuned GEMM choices depend on timings: both keep the heuristic's.
  a.tune_gemms = b.tune_gemms = false;
  a.programmatic_launch = false;
  b.programmatic_launch = true;
  Pair p{cuda_backend(m, a), cuda_backend(m, b)};
  if (!p.plain || !p.pdl) return p;
  const KvCacheShape kv{.n_blocks = n_seqs * kBlocksPerSeq, .block_size = 16, .dtype = KvDtype::f16};
  EXPECT_TRUE(p.plain->init_kv(kv).ok());
  EXPECT_TRUE(p.pdl->init_kv(kv).ok());
  return p;
}

void run_both(Pair& p, const ForwardBatch& b, ForwardOutput* x, ForwardOutput* y) {
  Status sa = p.plain->forward(b, x);
  Status sb = p.pdl->forward(b, y);
  ASSERT_TRUE(sa.ok()) << sa.error().message;
  ASSERT_TRUE(sb.ok()) << sb.error().message;
}

TEST(CudaProgrammaticLaunch, EqualsPlainLaunchBitForBit) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  auto model = synth_models().get("test-llama", "bf16");
  ASSERT_TRUE(model);
  const int V = model->config().n_vocab;
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "graphs" : "eager");
    const int n = 24;
    Pair p = make_pair(*model, graphs, n);
    ASSERT_TRUE(p.plain && p.pdl);
    if (p.pdl->device().cc_major >= 9) {
      EXPECT_NE(p.pdl->describe().find("programmatic launch on"), std::string::npos) << p.pdl->describe();
    }
    EXPECT_NE(p.plain->describe().find("programmatic launch off"), std::string::npos) << p.plain->describe();

    // Prompts of 1..200 tokens: short ones take the per-token attention,
    // long ones the tiled prefill kernel.
    std::vector<int32_t> len(n);
    ForwardBatch b;
    for (int i = 0; i < n; ++i) {
      len[static_cast<size_t>(i)] = i % 3 == 0 ? rng.range(65, 200) : rng.range(1, 40);
      std::vector<int32_t> prompt(static_cast<size_t>(len[static_cast<size_t>(i)]));
      for (auto& t : prompt) t = rng.range(0, V - 1);
      b.seqs.push_back(seq_of(prompt, 0, iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
    }
    // The first half alone, then the second half together with a decode step
    // of the first: one step mixing prefill chunks and decode tokens.
    ForwardBatch first;
    first.seqs.assign(b.seqs.begin(), b.seqs.begin() + n / 2);
    ForwardOutput x, y;
    ASSERT_NO_FATAL_FAILURE(run_both(p, first, &x, &y));
    ASSERT_EQ(x.logits, y.logits) << "prefill";
    ForwardBatch mixed;
    for (int i = 0; i < n; ++i) {
      if (i < n / 2) {
        mixed.seqs.push_back(seq_of({argmax(x.row(i))}, len[static_cast<size_t>(i)],
                                    iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
        ++len[static_cast<size_t>(i)];
      } else {
        mixed.seqs.push_back(b.seqs[static_cast<size_t>(i)]);
      }
    }
    ASSERT_NO_FATAL_FAILURE(run_both(p, mixed, &x, &y));
    ASSERT_EQ(x.logits, y.logits) << "mixed prefill and decode";

    // Decode steps: contexts grow past 200 keys, so attention splits.
    for (int step = 0; step < 24; ++step) {
      ForwardBatch d;
      for (int i = 0; i < n; ++i) {
        d.seqs.push_back(seq_of({argmax(x.row(i))}, len[static_cast<size_t>(i)],
                                iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
        ++len[static_cast<size_t>(i)];
      }
      ASSERT_NO_FATAL_FAILURE(run_both(p, d, &x, &y));
      ASSERT_EQ(x.logits, y.logits) << "decode step " << step;
    }
    // Decode steps of 1..4 sequences take the GEMV kernels.
    for (int step = 0; step < 8; ++step) {
      ForwardBatch d;
      for (int i = 0; i <= step % 4; ++i) {
        d.seqs.push_back(seq_of({argmax(x.row(std::min(i, x.n_rows - 1)))}, len[static_cast<size_t>(i)],
                                iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
        ++len[static_cast<size_t>(i)];
      }
      ASSERT_NO_FATAL_FAILURE(run_both(p, d, &x, &y));
      ASSERT_EQ(x.logits, y.logits) << "small decode step " << step;
    }
    if (graphs) {
      EXPECT_GT(p.pdl->stats().graph_replays, 0u);
    }

    // Device sampling (top-k draw and greedy) picks the same ids.
    for (const DeviceSampling s : {DeviceSampling{0.8f, 40, 99}, DeviceSampling{}}) {
      ForwardBatch d;
      for (int i = 0; i < n; ++i) {
        d.seqs.push_back(seq_of({static_cast<int32_t>(i)}, len[static_cast<size_t>(i)],
                                iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
        ++len[static_cast<size_t>(i)];
      }
      std::vector<int32_t> ia, ib;
      ASSERT_TRUE(p.plain->forward_sample(d, s, &ia).ok());
      ASSERT_TRUE(p.pdl->forward_sample(d, s, &ib).ok());
      EXPECT_EQ(ia, ib) << "temperature " << s.temperature;
    }
  }
}

TEST(CudaFusedNorm, DecodeMatchesSeparateNorm) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (const char* type : {"bf16", "f16"}) {
    SCOPED_TRACE(type);
    auto model = synth_models().get("test-llama3", type);
    ASSERT_TRUE(model);
    const int V = model->config().n_vocab;
    CudaBackendOptions a, b;
    a.fuse_norm_gemv = false;
    b.fuse_norm_gemv = true;
    a.tune_gemms = b.tune_gemms = false;  // the same GEMM algorithms in both
    auto apart = cuda_backend(*model, a);
    auto fused = cuda_backend(*model, b);
    ASSERT_TRUE(apart && fused);
    EXPECT_NE(fused->describe().find("norm fused into GEMVs"), std::string::npos) << fused->describe();
    EXPECT_NE(apart->describe().find("norm separate"), std::string::npos) << apart->describe();
    const int n = 4;
    const KvCacheShape kv{.n_blocks = n * kBlocksPerSeq, .block_size = 16, .dtype = KvDtype::f16};
    ASSERT_TRUE(apart->init_kv(kv).ok());
    ASSERT_TRUE(fused->init_kv(kv).ok());
    // Prompts through the GEMM path (the same in both), then decode steps of
    // 1..4 sequences through the GEMVs, each backend feeding its own argmax.
    std::vector<int32_t> len(n);
    ForwardBatch batch;
    for (int i = 0; i < n; ++i) {
      len[static_cast<size_t>(i)] = rng.range(8, 100);
      std::vector<int32_t> prompt(static_cast<size_t>(len[static_cast<size_t>(i)]));
      for (auto& t : prompt) t = rng.range(0, V - 1);
      batch.seqs.push_back(seq_of(prompt, 0, iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
    }
    ForwardOutput x, y;
    ASSERT_TRUE(apart->forward(batch, &x).ok());
    ASSERT_TRUE(fused->forward(batch, &y).ok());
    ASSERT_EQ(x.logits, y.logits) << "prefill does not use the GEMVs";
    double num = 0, den = 0;
    int rows = 0, same_argmax = 0;
    for (int step = 0; step < 12; ++step) {
      ForwardBatch d;
      const int m = 1 + step % n;
      for (int i = 0; i < m; ++i) {
        // Both continue with the separate-norm backend's choice, so their
        // contexts stay the same.
        d.seqs.push_back(seq_of({argmax(x.row(std::min(i, x.n_rows - 1)))}, len[static_cast<size_t>(i)],
                                iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
        ++len[static_cast<size_t>(i)];
      }
      Status sa = apart->forward(d, &x);
      Status sb = fused->forward(d, &y);
      ASSERT_TRUE(sa.ok() && sb.ok());
      ASSERT_EQ(x.n_rows, y.n_rows);
      for (int r = 0; r < x.n_rows; ++r) {
        const auto xr = x.row(r), yr = y.row(r);
        for (size_t i = 0; i < xr.size(); ++i) {
          num += (static_cast<double>(xr[i]) - yr[i]) * (static_cast<double>(xr[i]) - yr[i]);
          den += static_cast<double>(xr[i]) * xr[i];
        }
        same_argmax += argmax(xr) == argmax(yr);
        ++rows;
      }
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    std::printf("norm fused into the GEMVs vs separate (%s, %d decode rows): relative difference %.2e, argmax %d/%d\n",
                type, rows, rel, same_argmax, rows);
    EXPECT_GT(rel, 0.0) << "the fused path did not run";
    EXPECT_LT(rel, 1e-2);
    EXPECT_GE(same_argmax, rows - 2);
  }
}

TEST(CudaFusedRope, DecodeEqualsSeparateRopeBitForBit) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  // test-llama: adjacent pairs; test-qwen2: neox pairs and a QKV bias.
  const std::pair<const char*, const char*> models[] = {{"test-llama", "bf16"}, {"test-qwen2", "f16"}};
  for (const auto& [shape, type] : models) {
    auto model = synth_models().get(shape, type);
    ASSERT_TRUE(model);
    const int V = model->config().n_vocab;
    for (KvDtype kv_type : {KvDtype::f16, KvDtype::f32}) {
      for (bool graphs : {true, false}) {
        SCOPED_TRACE(std::string(shape) + " " + type + (kv_type == KvDtype::f16 ? " kv f16" : " kv f32") +
                     (graphs ? " graphs" : " eager"));
        CudaBackendOptions a, b;
        a.cuda_graphs = b.cuda_graphs = graphs;
        a.tune_gemms = b.tune_gemms = false;
        a.fuse_rope_decode = false;
        b.fuse_rope_decode = true;
        auto apart = cuda_backend(*model, a);
        auto fused = cuda_backend(*model, b);
        ASSERT_TRUE(apart && fused);
        EXPECT_NE(fused->describe().find("decode RoPE in attention"), std::string::npos) << fused->describe();
        const int n = 6;
        const KvCacheShape kv{.n_blocks = n * kBlocksPerSeq, .block_size = 16, .dtype = kv_type};
        ASSERT_TRUE(apart->init_kv(kv).ok());
        ASSERT_TRUE(fused->init_kv(kv).ok());
        std::vector<int32_t> len(n);
        ForwardBatch batch;
        for (int i = 0; i < n; ++i) {
          len[static_cast<size_t>(i)] = rng.range(1, 150);
          std::vector<int32_t> prompt(static_cast<size_t>(len[static_cast<size_t>(i)]));
          for (auto& t : prompt) t = rng.range(0, V - 1);
          batch.seqs.push_back(seq_of(prompt, 0, iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
        }
        ForwardOutput x, y;
        ASSERT_TRUE(apart->forward(batch, &x).ok());
        ASSERT_TRUE(fused->forward(batch, &y).ok());
        ASSERT_EQ(x.logits, y.logits) << "prompts";
        // Decode steps of 1, 3 and 6 sequences: one and several attention splits.
        for (int step = 0; step < 12; ++step) {
          const int m = step % 3 == 0 ? 1 : (step % 3 == 1 ? 3 : n);
          ForwardBatch d;
          for (int i = 0; i < m; ++i) {
            d.seqs.push_back(seq_of({argmax(x.row(std::min(i, x.n_rows - 1)))}, len[static_cast<size_t>(i)],
                                    iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
            ++len[static_cast<size_t>(i)];
          }
          ASSERT_TRUE(apart->forward(d, &x).ok());
          ASSERT_TRUE(fused->forward(d, &y).ok());
          ASSERT_EQ(x.logits, y.logits) << "decode step " << step;
        }
        // The caches agree too: a prompt continued on both reads them.
        ForwardBatch more;
        more.seqs.push_back(seq_of({1, 2, 3, 4, 5}, len[0], iota_table(kBlocksPerSeq, 0), LogitsMode::all));
        ASSERT_TRUE(apart->forward(more, &x).ok());
        ASSERT_TRUE(fused->forward(more, &y).ok());
        ASSERT_EQ(x.logits, y.logits) << "a chunk after the decode steps";
      }
    }
  }
}

}  // namespace
}  // namespace llmd::engine::cuda
