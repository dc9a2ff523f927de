// Batched forward steps equal running each sequence alone, bit for bit:
// several sequences with random prompt lengths, split into random prefill
// chunks mixed with other sequences' decodes, over random block tables, at
// several thread counts. Also: bad batches get clear errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "engine/cpu/cpu_backend.hpp"
#include "engine/cpu/cpu_features.hpp"
#include "engine/model/model.hpp"
#include "tests/engine_cpu/synth_fixture.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::engine {
namespace {

constexpr int kBlock = 16;

// Runs one sequence alone: the whole token list as one prefill (all logits).
std::vector<float> run_alone(Backend& be, const std::vector<int32_t>& tokens, const std::vector<int32_t>& table) {
  ForwardBatch b;
  b.seqs.push_back({tokens, 0, table, LogitsMode::all});
  ForwardOutput out;
  auto st = be.forward(b, &out);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return out.logits;
}

void check_batched_equals_alone(const Model& model, const std::string& isa, int threads, uint32_t seed) {
  const int V = model.config().n_vocab;
  std::mt19937 rng(seed);
  const int n_seqs = 6;
  const int pool = 64;
  // Token streams: a random prompt, then greedy continuation computed alone.
  std::vector<std::vector<int32_t>> toks(n_seqs);
  std::vector<size_t> prompt_len(n_seqs);
  std::vector<int32_t> all_blocks(pool);
  std::iota(all_blocks.begin(), all_blocks.end(), 0);
  std::shuffle(all_blocks.begin(), all_blocks.end(), rng);
  std::vector<std::vector<int32_t>> tables(n_seqs);
  for (int s = 0; s < n_seqs; ++s) {
    prompt_len[s] = 1 + rng() % 40;
    for (size_t i = 0; i < prompt_len[s]; ++i) toks[s].push_back(static_cast<int32_t>(rng() % V));
    tables[s].assign(all_blocks.begin() + s * 4, all_blocks.begin() + s * 4 + 4);  // 64 positions each
  }
  auto alone_be = make_cpu_backend(model, {.threads = threads, .isa = isa});
  ASSERT_TRUE(alone_be.ok()) << alone_be.error().message;
  ASSERT_TRUE((*alone_be)->init_kv({.n_blocks = pool, .block_size = kBlock}).ok());
  const int n_gen = 6;
  std::vector<std::vector<float>> ref(n_seqs);
  for (int s = 0; s < n_seqs; ++s) {
    // Greedy continuation, then one alone run over prompt + continuation.
    for (int g = 0; g < n_gen; ++g) {
      const auto l = run_alone(**alone_be, toks[s], tables[s]);
      const float* last = l.data() + (toks[s].size() - 1) * V;
      toks[s].push_back(static_cast<int32_t>(std::max_element(last, last + V) - last));
    }
    ref[s] = run_alone(**alone_be, toks[s], tables[s]);
  }

  // Batched: every step each unfinished sequence brings 1..9 tokens (prompt
  // chunks) or 1 token (its continuation), in a shuffled order.
  auto be = make_cpu_backend(model, {.threads = threads, .isa = isa});
  ASSERT_TRUE(be.ok());
  ASSERT_TRUE((*be)->init_kv({.n_blocks = pool, .block_size = kBlock}).ok());
  std::vector<size_t> done(n_seqs, 0);
  std::vector<std::vector<float>> got(n_seqs);
  for (int step = 0; step < 1000; ++step) {
    std::vector<int> order;
    for (int s = 0; s < n_seqs; ++s)
      if (done[s] < toks[s].size() && rng() % 4 != 0) order.push_back(s);
    if (order.empty()) {
      bool all = true;
      for (int s = 0; s < n_seqs; ++s) all = all && done[s] == toks[s].size();
      if (all) break;
      continue;
    }
    std::shuffle(order.begin(), order.end(), rng);
    ForwardBatch b;
    std::vector<size_t> take(n_seqs);
    for (int s : order) {
      const size_t left = toks[s].size() - done[s];
      take[s] = done[s] < prompt_len[s] ? std::min<size_t>(left, 1 + rng() % 9) : 1;
      b.seqs.push_back({std::span<const int32_t>(toks[s].data() + done[s], take[s]), static_cast<int32_t>(done[s]),
                        tables[s], LogitsMode::all});
    }
    ForwardOutput out;
    auto st = (*be)->forward(b, &out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    int32_t row = 0;
    for (int s : order) {
      for (size_t i = 0; i < take[s]; ++i, ++row) got[s].insert(got[s].end(), out.row(row).begin(), out.row(row).end());
      done[s] += take[s];
    }
    ASSERT_EQ(row, out.n_rows);
  }
  for (int s = 0; s < n_seqs; ++s) {
    ASSERT_EQ(got[s].size(), ref[s].size()) << "sequence " << s;
    size_t mismatches = 0;
    for (size_t i = 0; i < ref[s].size(); ++i) mismatches += got[s][i] != ref[s][i];
    EXPECT_EQ(mismatches, 0u) << "sequence " << s << " (" << isa << ", " << threads << " threads)";
  }
}

TEST(Batch, SyntheticGqaModelBatchedEqualsAlone) {
  const std::string path = test::synth_model_file(*synth::find_synth_shape("test-llama"), "q4_k_m");
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  uint32_t seed = 11;
  for (auto isa : cpu::available_isas()) check_batched_equals_alone(**model, cpu::isa_name(isa), 2, seed++);
  for (int threads : {1, 3}) check_batched_equals_alone(**model, "", threads, seed++);
}

TEST(Batch, FloatWeightsBatchedEqualsAlone) {
  const std::string path = test::synth_model_file(*synth::find_synth_shape("test-qwen2"), "f16");
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  check_batched_equals_alone(**model, "", 2, 5);
}

TEST(Batch, Stories260KBatchedEqualsAlone) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  auto model = Model::load(test::shared_file("models/stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  check_batched_equals_alone(**model, "", 2, 9);
}

TEST(Batch, LongPrefillIsCutIntoStepsTransparently) {
  // More tokens than one internal step takes: logits equal token-by-token decoding.
  const std::string path = test::synth_model_file(*synth::find_synth_shape("test-llama"), "q8_0");
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok());
  auto be = make_cpu_backend(**model, {.threads = 2});
  ASSERT_TRUE(be.ok());
  ASSERT_TRUE((*be)->init_kv({.n_blocks = 80, .block_size = 16}).ok());
  std::vector<int32_t> toks(700);
  std::mt19937 rng(3);
  for (auto& t : toks) t = static_cast<int32_t>(rng() % 512);
  std::vector<int32_t> table(48);
  std::iota(table.begin(), table.end(), 0);
  ForwardBatch b;
  b.seqs.push_back({toks, 0, table, LogitsMode::last});
  ForwardOutput whole;
  ASSERT_TRUE((*be)->forward(b, &whole).ok());
  ASSERT_EQ(whole.n_rows, 1);
  std::vector<int32_t> table2(48);
  std::iota(table2.begin(), table2.end(), 32);
  ForwardOutput out;
  for (size_t i = 0; i < toks.size(); i += 100) {
    ForwardBatch c;
    c.seqs.push_back({std::span<const int32_t>(toks.data() + i, std::min<size_t>(100, toks.size() - i)),
                      static_cast<int32_t>(i), table2, LogitsMode::last});
    ASSERT_TRUE((*be)->forward(c, &out).ok());
  }
  EXPECT_EQ(out.logits, whole.logits);
}

class BadBatch : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = Model::load(test::synth_model_file(*synth::find_synth_shape("test-llama"), "q8_0"));
    ASSERT_TRUE(m.ok());
    model = std::move(*m);
    auto b = make_cpu_backend(*model, {.threads = 2});
    ASSERT_TRUE(b.ok());
    be = std::move(*b);
  }
  Status run(std::vector<int32_t> tokens, int32_t pos, std::vector<int32_t> table) {
    ForwardBatch b;
    b.seqs.push_back({tokens, pos, table, LogitsMode::last});
    ForwardOutput out;
    return be->forward(b, &out);
  }
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> be;
};

TEST_F(BadBatch, ForwardBeforeInitKvIsAnError) {
  auto st = run({1, 2}, 0, {0});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kv_not_initialized);
}

TEST_F(BadBatch, InvalidBatchesAreRejected) {
  ASSERT_TRUE(be->init_kv({.n_blocks = 4, .block_size = 16}).ok());
  auto expect_bad = [&](Status st, const std::string& mention) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::forward_bad_batch);
    EXPECT_NE(st.error().message.find(mention), std::string::npos) << st.error().message;
  };
  expect_bad(run({}, 0, {0}), "no tokens");
  expect_bad(run({1}, -1, {0}), "negative position");
  expect_bad(run({1, 2}, 15, {0}), "needs 2 KV blocks");
  expect_bad(run({1, 2}, 0, {4}), "KV block 4");
  expect_bad(run({1, 2}, 0, {-1}), "KV block -1");
  expect_bad(run({1, 512}, 0, {0}), "token id 512");
  expect_bad(run({-3}, 0, {0}), "token id -3");
  expect_bad(run({1}, 1 << 30, std::vector<int32_t>(4, 0)), "beyond");
  // A good batch still works afterwards.
  EXPECT_TRUE(run({1, 2, 3}, 0, {2}).ok());
}

TEST_F(BadBatch, KvShapesAndCopies) {
  EXPECT_EQ(be->init_kv({.n_blocks = 4, .block_size = 16, .dtype = KvDtype::q8_0}).error().code, ErrorCode::kv_unsupported_dtype);
  EXPECT_FALSE(be->init_kv({.n_blocks = 0, .block_size = 16}).ok());
  EXPECT_FALSE(be->init_kv({.n_blocks = 4, .block_size = 0}).ok());
  EXPECT_FALSE(be->copy_kv_block(0, 1).ok());  // not initialized
  ASSERT_TRUE(be->init_kv({.n_blocks = 4, .block_size = 16}).ok());
  const ModelConfig& c = model->config();
  EXPECT_EQ(be->kv_block_bytes({.n_blocks = 4, .block_size = 16}),
            static_cast<uint64_t>(c.n_layer) * 2 * c.n_head_kv * c.head_dim * 16 * 2);
  EXPECT_FALSE(be->copy_kv_block(0, 4).ok());
  EXPECT_FALSE(be->copy_kv_block(-1, 0).ok());
  // Copy-on-write: a copied block serves the same prefix.
  const std::vector<int32_t> toks = {5, 6, 7, 8, 9}, table1 = {1}, table3 = {3};
  ForwardBatch b;
  b.seqs.push_back({toks, 0, table1, LogitsMode::last});
  ForwardOutput first, second;
  ASSERT_TRUE(be->forward(b, &first).ok());
  ASSERT_TRUE(be->copy_kv_block(1, 3).ok());
  std::vector<int32_t> next = {10};
  ForwardBatch c1, c2;
  c1.seqs.push_back({next, 5, table1, LogitsMode::last});
  c2.seqs.push_back({next, 5, table3, LogitsMode::last});
  ASSERT_TRUE(be->forward(c1, &first).ok());
  ASSERT_TRUE(be->forward(c2, &second).ok());
  EXPECT_EQ(first.logits, second.logits);
}

TEST(CpuBackendOptions, UnknownKernelVariantIsAnError) {
  auto m = Model::load(test::synth_model_file(*synth::find_synth_shape("test-llama"), "q8_0"));
  ASSERT_TRUE(m.ok());
  auto be = make_cpu_backend(**m, {.threads = 1, .isa = "neon"});
  ASSERT_FALSE(be.ok());
  EXPECT_EQ(be.error().code, ErrorCode::cpu_isa_unavailable);
  EXPECT_FALSE(make_cpu_backend(**m, {.threads = -2}).ok());
}

}  // namespace
}  // namespace llmd::engine
