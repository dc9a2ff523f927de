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
// The prefill attention's pipelined variant (two K/V buffers, tile-major
// block order) does the same arithmetic as the single-buffered one: prompt
// and continued-chunk logits equal bit for bit.
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

// Two backends of one model that differ in the options under test, each with
// a KV pool for n_seqs sequences of kBlocksPerSeq blocks.
struct Pair {
  std::unique_ptr<CudaBackend> a;
  std::unique_ptr<CudaBackend> b;
};

Pair make_pair(const Model& m, CudaBackendOptions oa, CudaBackendOptions ob, int n_seqs,
               KvDtype kv_type = KvDtype::f16) {
  // Tuned GEMM choices depend on timings: both keep the heuristic's.
  oa.tune_gemms = ob.tune_gemms = false;
  Pair p{cuda_backend(m, oa), cuda_backend(m, ob)};
  if (!p.a || !p.b) return p;
  const KvCacheShape kv{.n_blocks = n_seqs * kBlocksPerSeq, .block_size = 16, .dtype = kv_type};
  EXPECT_TRUE(p.a->init_kv(kv).ok());
  EXPECT_TRUE(p.b->init_kv(kv).ok());
  return p;
}

void run_both(Pair& p, const ForwardBatch& b, ForwardOutput* x, ForwardOutput* y) {
  Status sa = p.a->forward(b, x);
  Status sb = p.b->forward(b, y);
  ASSERT_TRUE(sa.ok()) << sa.error().message;
  ASSERT_TRUE(sb.ok()) << sb.error().message;
}

// A chunk of lo..hi random tokens for each sequence i < len->size(), after
// the (*len)[i] tokens it already has (advanced), run on both backends; x and
// y receive the logits of the rows `mode` asks for.
void chunks_on_both(Pair& p, Rng& rng, int n_vocab, int lo, int hi, LogitsMode mode, std::vector<int32_t>* len,
                    ForwardOutput* x, ForwardOutput* y) {
  ForwardBatch batch;
  for (size_t i = 0; i < len->size(); ++i) {
    std::vector<int32_t> chunk(static_cast<size_t>(rng.range(lo, hi)));
    for (auto& t : chunk) t = rng.range(0, n_vocab - 1);
    const int seq = static_cast<int>(i);
    batch.seqs.push_back(seq_of(chunk, (*len)[i], iota_table(kBlocksPerSeq, seq * kBlocksPerSeq), mode));
    (*len)[i] += static_cast<int32_t>(chunk.size());
  }
  run_both(p, batch, x, y);
}

// Random prompts of lo..hi tokens for sequences 0..n-1 (their lengths into
// *len), run on both backends; x and y receive the logits of each last token.
void prompts_on_both(Pair& p, Rng& rng, int n_vocab, int n, int lo, int hi, std::vector<int32_t>* len,
                     ForwardOutput* x, ForwardOutput* y) {
  len->assign(static_cast<size_t>(n), 0);
  chunks_on_both(p, rng, n_vocab, lo, hi, LogitsMode::last, len, x, y);
}

// One decode token for each of sequences 0..m-1: the argmax of row i of x
// (of its last row where x has fewer), at the sequence's length, which
// advances.
ForwardBatch decode_step(const ForwardOutput& x, int m, std::vector<int32_t>* len) {
  ForwardBatch d;
  for (int i = 0; i < m; ++i) {
    d.seqs.push_back(seq_of({argmax(x.row(std::min(i, x.n_rows - 1)))}, (*len)[static_cast<size_t>(i)],
                            iota_table(kBlocksPerSeq, i * kBlocksPerSeq), LogitsMode::last));
    ++(*len)[static_cast<size_t>(i)];
  }
  return d;
}

// The option under test took its path in backend b (a launch counted in
// `count`) and never in backend a.
void expect_only_b_took(const Pair& p, uint64_t CudaBackendStats::*count, const char* path) {
  EXPECT_GT(p.b->stats().*count, 0u) << path << " did not run";
  EXPECT_EQ(p.a->stats().*count, 0u) << path << " ran without its option";
}

// How far two backends' logits are apart over many rows: ||x - y|| / ||x||
// over all of them, and how many rows agree on the argmax.
struct LogitsDiff {
  double num = 0, den = 0;
  int rows = 0, same_argmax = 0;
  void add(const ForwardOutput& x, const ForwardOutput& y) {
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
  double rel() const { return std::sqrt(num / std::max(den, 1e-300)); }
};

// Prompts of lo..hi tokens for sequences 0..n-1, then `steps` decode steps
// of 1, 3 and n sequences in turn (one and several attention splits): both
// backends' logits equal bit for bit after each. *len: the contexts; x: the
// last logits.
void prompts_and_decode_equal(Pair& p, Rng& rng, int n_vocab, int n, int lo, int hi, int steps,
                              std::vector<int32_t>* len, ForwardOutput* x) {
  ForwardOutput y;
  ASSERT_NO_FATAL_FAILURE(prompts_on_both(p, rng, n_vocab, n, lo, hi, len, x, &y));
  ASSERT_EQ(x->logits, y.logits) << "prompts";
  for (int step = 0; step < steps; ++step) {
    const int m = step % 3 == 0 ? 1 : (step % 3 == 1 ? 3 : n);
    ASSERT_NO_FATAL_FAILURE(run_both(p, decode_step(*x, m, len), x, &y));
    ASSERT_EQ(x->logits, y.logits) << "decode step " << step;
  }
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
    CudaBackendOptions plain, pdl;
    plain.cuda_graphs = pdl.cuda_graphs = graphs;
    plain.programmatic_launch = false;
    pdl.programmatic_launch = true;
    Pair p = make_pair(*model, plain, pdl, n);
    ASSERT_TRUE(p.a && p.b);
    if (p.b->device().cc_major >= 9) {
      EXPECT_NE(p.b->describe().find("programmatic launch on"), std::string::npos) << p.b->describe();
    }
    EXPECT_NE(p.a->describe().find("programmatic launch off"), std::string::npos) << p.a->describe();

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
      ASSERT_NO_FATAL_FAILURE(run_both(p, decode_step(x, n, &len), &x, &y));
      ASSERT_EQ(x.logits, y.logits) << "decode step " << step;
    }
    // Decode steps of 1..4 sequences take the GEMV kernels.
    for (int step = 0; step < 8; ++step) {
      ASSERT_NO_FATAL_FAILURE(run_both(p, decode_step(x, 1 + step % 4, &len), &x, &y));
      ASSERT_EQ(x.logits, y.logits) << "small decode step " << step;
    }
    if (graphs) {
      EXPECT_GT(p.b->stats().graph_replays, 0u);
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
      ASSERT_TRUE(p.a->forward_sample(d, s, &ia).ok());
      ASSERT_TRUE(p.b->forward_sample(d, s, &ib).ok());
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
    CudaBackendOptions apart, fused;
    apart.fuse_norm_gemv = false;
    fused.fuse_norm_gemv = true;
    Pair p = make_pair(*model, apart, fused, 4);
    ASSERT_TRUE(p.a && p.b);
    EXPECT_NE(p.b->describe().find("norm fused into GEMVs"), std::string::npos) << p.b->describe();
    EXPECT_NE(p.a->describe().find("norm separate"), std::string::npos) << p.a->describe();
    // Prompts through the GEMM path (the same in both), then decode steps of
    // 1..4 sequences through the GEMVs; both continue with the separate-norm
    // backend's choice, so their contexts stay the same.
    std::vector<int32_t> len;
    ForwardOutput x, y;
    ASSERT_NO_FATAL_FAILURE(prompts_on_both(p, rng, V, 4, 8, 100, &len, &x, &y));
    ASSERT_EQ(x.logits, y.logits) << "prefill does not use the GEMVs";
    LogitsDiff diff;
    for (int step = 0; step < 12; ++step) {
      ASSERT_NO_FATAL_FAILURE(run_both(p, decode_step(x, 1 + step % 4, &len), &x, &y));
      ASSERT_NO_FATAL_FAILURE(diff.add(x, y));
    }
    const double rel = diff.rel();
    std::printf("norm fused into the GEMVs vs separate (%s, %d decode rows): relative difference %.2e, argmax %d/%d\n",
                type, diff.rows, rel, diff.same_argmax, diff.rows);
    EXPECT_GT(rel, 0.0) << "the fused path did not run";
    EXPECT_LT(rel, 1e-2);
    EXPECT_GE(diff.same_argmax, diff.rows - 2);
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
        CudaBackendOptions apart, fused;
        apart.cuda_graphs = fused.cuda_graphs = graphs;
        apart.fuse_rope_decode = false;
        fused.fuse_rope_decode = true;
        const int n = 6;
        Pair p = make_pair(*model, apart, fused, n, kv_type);
        ASSERT_TRUE(p.a && p.b);
        EXPECT_NE(p.b->describe().find("decode RoPE in attention"), std::string::npos) << p.b->describe();
        std::vector<int32_t> len;
        ForwardOutput x, y;
        ASSERT_NO_FATAL_FAILURE(prompts_and_decode_equal(p, rng, V, n, 1, 150, 12, &len, &x));
        // The caches agree too: a prompt continued on both reads them.
        ForwardBatch more;
        more.seqs.push_back(seq_of({1, 2, 3, 4, 5}, len[0], iota_table(kBlocksPerSeq, 0), LogitsMode::all));
        ASSERT_NO_FATAL_FAILURE(run_both(p, more, &x, &y));
        ASSERT_EQ(x.logits, y.logits) << "a chunk after the decode steps";
        expect_only_b_took(p, &CudaBackendStats::attn_fused_rope, "the fused RoPE");
      }
    }
  }
}

TEST(CudaPrefillPipeline, PrefillEqualsSingleBufferedBitForBit) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (const char* shape : {"test-llama", "test-qwen2"}) {
    SCOPED_TRACE(shape);
    auto model = synth_models().get(shape, "bf16");
    ASSERT_TRUE(model);
    const int V = model->config().n_vocab;
    CudaBackendOptions single, piped;
    single.prefill_pipelined = false;
    piped.prefill_pipelined = true;
    const int n = 4;
    Pair p = make_pair(*model, single, piped, n);
    ASSERT_TRUE(p.a && p.b);
    EXPECT_NE(p.b->describe().find("prefill attention pipelined"), std::string::npos) << p.b->describe();
    EXPECT_NE(p.a->describe().find("prefill attention single-buffered"), std::string::npos) << p.a->describe();
    // Prompts long enough for several 64-key tiles (every row's logits), then
    // a second chunk of each that reads the first from the cache.
    std::vector<int32_t> len(n, 0);
    for (int round = 0; round < 2; ++round) {
      ForwardOutput x, y;
      ASSERT_NO_FATAL_FAILURE(
          chunks_on_both(p, rng, V, round == 0 ? 65 : 1, round == 0 ? 250 : 120, LogitsMode::all, &len, &x, &y));
      ASSERT_EQ(x.n_rows, y.n_rows);
      EXPECT_EQ(x.logits, y.logits) << (round == 0 ? "prompts" : "continued chunks");
    }
    expect_only_b_took(p, &CudaBackendStats::prefill_pipelined, "the pipelined prefill attention");
  }
}

}  // namespace
}  // namespace llmd::engine::cuda
