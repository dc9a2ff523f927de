// The CPU backend against the float64 numpy reference on synthetic models of
// every architecture feature (GQA, MHA with linear RoPE scaling, Llama 3.1
// rope_freqs with tied output, qwen2 QKV bias with NeoX RoPE, qwen3 per-head Q/K
// norms with head_dim * n_head != n_embd) and every weight
// type, for every kernel variant this CPU runs. The prompt runs as two prefill
// chunks and then single-token decodes over a shuffled block table, so the
// logits compared come from paged prefill and decode alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <tuple>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/cpu_features.hpp"
#include "engine/model/model.hpp"
#include "tests/engine_cpu/synth_fixture.hpp"

namespace llmd::engine {
namespace {

using Param = std::tuple<std::string, std::string>;  // shape, weight type

class ReferenceForward : public ::testing::TestWithParam<Param> {};

TEST_P(ReferenceForward, LogitsMatchFloat64Reference) {
  if (!std::filesystem::exists(test::kPython)) GTEST_SKIP() << test::kPython << " is absent";
  const auto& [shape_name, type] = GetParam();
  const synth::SynthShape* shape = synth::find_synth_shape(shape_name);
  ASSERT_NE(shape, nullptr);
  const std::string path = test::synth_model_file(*shape, type);
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;

  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(shape_name + type)));
  std::vector<int32_t> ids(21);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(shape->n_vocab));
  const std::vector<double> ref = test::reference_logits(path, ids);
  const size_t V = static_cast<size_t>(shape->n_vocab);
  ASSERT_EQ(ref.size(), ids.size() * V);

  const bool exact = type == "f32";
  const double tol = exact ? 1e-4 : 1e-2;
  const KvDtype kv = exact ? KvDtype::f32 : KvDtype::f16;
  for (cpu::CpuIsa isa : cpu::available_isas()) {
    SCOPED_TRACE(cpu::isa_name(isa));
    auto be = make_cpu_backend(**model, {.threads = 2, .isa = cpu::isa_name(isa)});
    ASSERT_TRUE(be.ok()) << be.error().message;
    const int bs = static_cast<int>(isa) == 0 ? 4 : (static_cast<int>(isa) == 1 ? 16 : 8);
    ASSERT_TRUE((*be)->init_kv({.n_blocks = 40, .block_size = bs, .dtype = kv}).ok());
    std::vector<int32_t> table(40);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);

    std::vector<float> got;
    auto run = [&](size_t begin, size_t end) {
      ForwardBatch batch;
      BatchSeq s;
      s.tokens = std::span<const int32_t>(ids.data() + begin, end - begin);
      s.pos = static_cast<int32_t>(begin);
      s.block_table = table;
      s.logits = LogitsMode::all;
      batch.seqs.push_back(s);
      ForwardOutput out;
      auto st = (*be)->forward(batch, &out);
      ASSERT_TRUE(st.ok()) << st.error().message;
      ASSERT_EQ(out.n_rows, static_cast<int32_t>(end - begin));
      got.insert(got.end(), out.logits.begin(), out.logits.end());
    };
    run(0, 9);
    run(9, 17);
    for (size_t i = 17; i < ids.size(); ++i) run(i, i + 1);
    ASSERT_EQ(got.size(), ref.size());

    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
      diff += (got[i] - ref[i]) * (got[i] - ref[i]);
      norm += ref[i] * ref[i];
    }
    const double rel = std::sqrt(diff / norm);
    if (std::getenv("LLMD_TEST_VERBOSE")) std::printf("%s %s %s rel %.3g\n", shape_name.c_str(), type.c_str(), cpu::isa_name(isa), rel);
    EXPECT_LE(rel, tol) << shape_name << " " << type << ": |out - ref| / |ref| = " << rel;
    // The argmax agrees wherever the reference is not close to a tie.
    for (size_t r = 0; r < ids.size(); ++r) {
      const double* rr = ref.data() + r * V;
      const float* gr = got.data() + r * V;
      const size_t best = static_cast<size_t>(std::max_element(rr, rr + V) - rr);
      const size_t mine = static_cast<size_t>(std::max_element(gr, gr + V) - gr);
      if (mine != best) {
        EXPECT_LT(rr[best] - rr[mine], 10 * tol * std::sqrt(norm / static_cast<double>(ref.size())));
      }
    }
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Synth, ReferenceForward,
                         ::testing::Combine(::testing::Values("test-llama", "test-llama-mha", "test-llama3",
                                                              "test-qwen2", "test-qwen3"),
                                            ::testing::Values("f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k",
                                                              "q6_k", "q4_k_m")),
                         param_name);

}  // namespace
}  // namespace llmd::engine
