// Weights kept quantized on the device (CudaBackendOptions::quantized_weights):
// synthetic models of each block type and a q4_K_M-style mix (q6_K attn_v,
// ffn_down and output beside q4_K) against the float64 reference and against
// the same model dequantized at load, through prefill (the quantized
// tensor-core products, and the dequantized scratch with cuBLASLt), steps of
// 1 to 130 tokens (the quantized GEMVs up to 8, with the RMSNorm and
// SwiGLU folded in, the tensor-core products above) and decode steps
// replayed from graphs; weight memory within 5 % of the file's tensor
// bytes; and greedy ids of stories260K rewritten in q8_0 and q4_0 by the
// project's writer equal the CPU backend's.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cuda/cuda_backend.hpp"
#include "engine/model/model.hpp"
#include "tests/engine_cuda/backend_fixtures.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"
#include "tests/engine_cuda/f64_reference.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/quantized_copy.hpp"
#include "tests/support/stories_reference.hpp"

namespace llmd::engine::cuda {
namespace {

using test::cuda::Rng;
using namespace test_fixtures;

const char* const kTypes[] = {"q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_k_m"};

// ||got - ref|| / ||ref|| over one row.
double rel_to(std::span<const double> ref, std::span<const float> got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

std::vector<double> widened(std::span<const float> v) { return {v.begin(), v.end()}; }

// Logits of every position of `tokens`: all but the last three as one
// prefill step, then those three decoded one at a time (the second decode
// step captures a graph, the third replays it).
std::vector<std::vector<float>> prefill_then_decode(CudaBackend& be, const std::vector<int32_t>& tokens) {
  std::vector<std::vector<float>> rows;
  const size_t n_pre = tokens.size() - 3;
  const auto table = iota_table(8);
  ForwardBatch b;
  b.seqs.push_back(seq_of(std::vector<int32_t>(tokens.begin(), tokens.begin() + n_pre), 0, table, LogitsMode::all));
  ForwardOutput out;
  Status st = be.forward(b, &out);
  EXPECT_TRUE(st.ok()) << st.error().message;
  if (!st.ok()) return rows;
  for (int32_t r = 0; r < out.n_rows; ++r) rows.emplace_back(out.row(r).begin(), out.row(r).end());
  for (size_t t = n_pre; t < tokens.size(); ++t) {
    b.seqs[0] = seq_of({tokens[t]}, static_cast<int32_t>(t), table, LogitsMode::last);
    st = be.forward(b, &out);
    EXPECT_TRUE(st.ok()) << st.error().message;
    if (!st.ok()) return rows;
    rows.emplace_back(out.row(0).begin(), out.row(0).end());
  }
  return rows;
}

// quant_gemm_max_tokens: the largest step of the quantized tensor-core
// products (0: the dequantized scratch for every step over 8 tokens).
std::unique_ptr<CudaBackend> backend(const Model& m, bool keep, int quant_gemm_max_tokens = 256) {
  CudaBackendOptions o;
  o.quantized_weights = keep;
  o.quant_gemm_max_tokens = quant_gemm_max_tokens;
  auto be = cuda_backend(m, o);
  if (be) {
    EXPECT_TRUE(be->init_kv({.n_blocks = 32, .block_size = 16, .dtype = KvDtype::f16}).ok());
  }
  return be;
}

TEST(CudaQuantizedWeights, EveryTypeMatchesFloat64ReferenceAndTheDequantizedWeights) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  // test-llama3 ties the output to the embedding; test-qwen2 has QKV biases
  // and one KV head.
  for (const char* shape : {"test-llama", "test-llama3", "test-qwen2"}) {
    for (const char* type : kTypes) {
      SCOPED_TRACE(std::string(shape) + " " + type);
      auto model = synth_models().get(shape, type);
      ASSERT_TRUE(model);
      const int V = model->config().n_vocab;
      std::vector<int32_t> tokens(static_cast<size_t>(rng.range(20, 90)));
      for (auto& t : tokens) t = rng.range(0, V - 1);
      const auto want = test::F64Reference(*model).logits(tokens);

      auto kept = backend(*model, true);
      auto scratch = backend(*model, true, 0);
      auto dequantized = backend(*model, false);
      ASSERT_TRUE(kept && scratch && dequantized);
      EXPECT_LE(static_cast<double>(kept->weight_bytes()), 1.05 * static_cast<double>(model->weight_bytes()));
      EXPECT_LT(kept->weight_bytes(), dequantized->weight_bytes());
      EXPECT_NE(kept->describe().find("kept quantized"), std::string::npos) << kept->describe();

      const auto got = prefill_then_decode(*kept, tokens);
      const auto via_scratch = prefill_then_decode(*scratch, tokens);
      const auto base = prefill_then_decode(*dequantized, tokens);
      ASSERT_EQ(got.size(), tokens.size());
      ASSERT_EQ(via_scratch.size(), tokens.size());
      ASSERT_EQ(base.size(), tokens.size());
      double err2 = 0, ref2 = 0, worst = 0, worst_prefill_vs_base = 0, worst_decode_vs_base = 0,
             worst_scratch_vs_base = 0;
      for (size_t r = 0; r < tokens.size(); ++r) {
        worst = std::max(worst, rel_to(want[r], got[r]));
        for (size_t i = 0; i < want[r].size(); ++i) {
          const double d = got[r][i] - want[r][i];
          err2 += d * d;
          ref2 += want[r][i] * want[r][i];
        }
        const double vs_base = rel_to(widened(base[r]), got[r]);
        double& w = r + 3 < tokens.size() ? worst_prefill_vs_base : worst_decode_vs_base;
        w = std::max(w, vs_base);
        if (r + 3 < tokens.size()) {
          worst_scratch_vs_base = std::max(worst_scratch_vs_base, rel_to(widened(base[r]), via_scratch[r]));
        }
      }
      const double rel = std::sqrt(err2 / ref2);
      std::printf("%-12s %-6s kept %.3f MiB (file %.3f MiB): vs float64 %.2e (worst row %.2e), vs dequantized "
                  "prefill %.2e (scratch path %.2e) decode %.2e\n",
                  shape, type, static_cast<double>(kept->weight_bytes()) / (1 << 20),
                  static_cast<double>(model->weight_bytes()) / (1 << 20), rel, worst, worst_prefill_vs_base,
                  worst_scratch_vs_base, worst_decode_vs_base);
      EXPECT_LE(rel, 1e-2);
      EXPECT_LT(worst, 2e-2);
      // Prefill: the same 16-bit weights, through the tensor-core products
      // or the scratch and the same GEMMs. Decode: the quantized GEMVs use
      // the weights unrounded.
      EXPECT_LT(worst_prefill_vs_base, 2e-3);
      EXPECT_LT(worst_scratch_vs_base, 2e-3);
      EXPECT_LT(worst_decode_vs_base, 1e-2);

      const CudaBackendStats s = kept->stats();
      EXPECT_GT(s.quant_gemvs, 0u);
      EXPECT_GT(s.quant_norm_folded, 0u);  // decode steps: RMSNorm (and SwiGLU) inside the GEMVs
      EXPECT_GT(s.quant_gemms, 0u);
      EXPECT_EQ(s.dequantized_gemms, 0u);  // prefills of under 256 tokens
      EXPECT_GT(s.graph_replays, 0u);
      EXPECT_GT(scratch->stats().dequantized_gemms, 0u);
      EXPECT_EQ(scratch->stats().quant_gemms, 0u);
      EXPECT_EQ(dequantized->stats().quant_gemvs, 0u);
      EXPECT_EQ(dequantized->stats().dequantized_gemms, 0u);
      EXPECT_TRUE(kept->healthy());
    }
  }
}

// One step of n tokens of a fresh sequence, every position's logits: up to 8
// tokens take the quantized GEMVs (split parts writing their columns of a
// wider output), up to quant_gemm_max_tokens (here 64) the tensor-core
// products, more the dequantized GEMMs.
TEST(CudaQuantizedWeights, StepsOfOneToOneHundredThirtyTokensMatchFloat64Reference) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (const char* type : {"q4_k_m", "q8_0"}) {
    auto model = synth_models().get("test-llama", type);
    ASSERT_TRUE(model);
    const test::F64Reference ref(*model);
    auto be = backend(*model, true, 64);
    ASSERT_TRUE(be);
    for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 33, 64, 65, 130}) {
      SCOPED_TRACE(std::string(type) + ", " + std::to_string(n) + " tokens");
      std::vector<int32_t> tokens(static_cast<size_t>(n));
      for (auto& t : tokens) t = rng.range(0, model->config().n_vocab - 1);
      const auto want = ref.logits(tokens);
      const CudaBackendStats before = be->stats();
      ForwardBatch b;
      b.seqs.push_back(seq_of(tokens, 0, iota_table((n + 15) / 16), LogitsMode::all));
      ForwardOutput out;
      Status st = be->forward(b, &out);
      ASSERT_TRUE(st.ok()) << st.error().message;
      ASSERT_EQ(out.n_rows, n);
      for (int r = 0; r < n; ++r) EXPECT_LT(rel_to(want[static_cast<size_t>(r)], out.row(r)), 2e-2) << "row " << r;
      const CudaBackendStats after = be->stats();
      EXPECT_EQ(after.quant_gemvs > before.quant_gemvs, n <= 8);
      EXPECT_EQ(after.quant_gemms > before.quant_gemms, n > 8 && n <= 64);
      EXPECT_EQ(after.dequantized_gemms > before.dequantized_gemms, n > 64);
    }
  }
}


// An output head larger than the dequantization scratch (70,000 x 256 q8_0
// weights, the scratch's floor being 16 Mi): a prefill step's logits come from
// two chunks of rows, each staged and copied into its columns.
TEST(CudaQuantizedWeights, HeadLargerThanTheScratchGoesInChunks) {
  LLMD_REQUIRE_GPU();
  Rng rng;
  SCOPED_TRACE(rng.trace());
  synth::SynthShape shape = *synth::find_synth_shape("test-llama");
  shape.name = "test-llama-wide-vocab";
  shape.n_vocab = 70000;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("llmd-wide-vocab-q8_0-" + std::to_string(::getpid()) + ".gguf")).string();
  synth::SynthOptions so;
  so.type = "q8_0";
  so.seed = 3;
  ASSERT_TRUE(synth::write_synth_model(shape, so, path).ok());
  auto model = Model::load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  std::vector<int32_t> tokens(12);
  for (auto& t : tokens) t = rng.range(0, shape.n_vocab - 1);
  const auto want = test::F64Reference(**model).logits(tokens);
  auto kept = backend(**model, true, 0);
  auto direct = backend(**model, true);  // the tensor-core products need no scratch
  auto dequantized = backend(**model, false);
  ASSERT_TRUE(kept && direct && dequantized);
  ForwardBatch b;
  b.seqs.push_back(seq_of(tokens, 0, iota_table(2), LogitsMode::all));
  ForwardOutput got, base, got_direct;
  Status st = kept->forward(b, &got);
  ASSERT_TRUE(st.ok()) << st.error().message;
  st = direct->forward(b, &got_direct);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(direct->stats().dequantized_gemms, 0u);
  EXPECT_EQ(direct->stats().quant_gemms, 2u * 4u + 1u);
  st = dequantized->forward(b, &base);
  ASSERT_TRUE(st.ok()) << st.error().message;
  // Four projections in each of two layers, and the head in two chunks.
  EXPECT_EQ(kept->stats().dequantized_gemms, 2u * 4u + 2u);
  ASSERT_EQ(got.n_rows, 12);
  for (int r = 0; r < 12; ++r) {
    EXPECT_LT(rel_to(want[static_cast<size_t>(r)], got.row(r)), 2e-2) << "row " << r;
    EXPECT_LT(rel_to(widened(base.row(r)), got.row(r)), 2e-3) << "row " << r;
    EXPECT_LT(rel_to(widened(base.row(r)), got_direct.row(r)), 2e-3) << "row " << r;
  }
}

// stories260K rewritten in a quantized type by the project's writer
// (tests/support/quantized_copy.hpp): projections mix quantized parts and f16
// ones (rows of 172), activations are f16. The types whose blocks fit its
// 64-wide rows: q8_0 and q4_0 (the K-quants' 256 do not).
void check_stories(gguf::GgmlType type) {
  const std::string name(gguf::ggml_type_name(type));
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("llmd-stories260K-" + name + "-" + std::to_string(::getpid()) + ".gguf")).string();
  ASSERT_FALSE(
      test::write_quantized_copy(test::shared_file("models/stories260K.gguf").string(), path, type).empty());
  auto model = Model::load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto cpu = make_cpu_backend(**model, {});
  ASSERT_TRUE(cpu.ok()) << cpu.error().message;
  auto kept = backend(**model, true);
  auto dequantized = backend(**model, false);
  ASSERT_TRUE(kept && dequantized);
  EXPECT_LE(static_cast<double>(kept->weight_bytes()), 1.05 * static_cast<double>((*model)->weight_bytes()));
  ASSERT_TRUE((*cpu)->init_kv({.n_blocks = 32, .block_size = 16, .dtype = KvDtype::f16}).ok());
  for (const auto& c : test::read_stories_reference()) {
    SCOPED_TRACE("prompt '" + c.prompt + "'");
    const auto ids = greedy_ids(*kept, c.prompt_ids, 64);
    EXPECT_EQ(ids, greedy_ids(**cpu, c.prompt_ids, 64)) << "kept " << name << " on CUDA and the CPU backend disagree";
    EXPECT_EQ(ids, greedy_ids(*dequantized, c.prompt_ids, 64)) << "kept and dequantized " << name << " disagree";
  }
  EXPECT_GT(kept->stats().quant_gemvs, 0u);
  EXPECT_TRUE(kept->healthy());
}

TEST(CudaQuantizedWeights, Stories260KInQ8_0GreedyIdsMatchCpuBackend) {
  LLMD_REQUIRE_GPU();
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  check_stories(gguf::GgmlType::Q8_0);
}

TEST(CudaQuantizedWeights, Stories260KInQ4_0GreedyIdsMatchCpuBackend) {
  LLMD_REQUIRE_GPU();
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  check_stories(gguf::GgmlType::Q4_0);
}

}  // namespace
}  // namespace llmd::engine::cuda
