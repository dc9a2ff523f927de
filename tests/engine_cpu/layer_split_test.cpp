// A model split into CPU stages (engine/backend/split_backend.hpp, made by the
// backend factory): in every split position over 2 and 3 stages, the logits
// of batches that mix prefill chunks and decode steps are bit-identical to one
// CPU backend's, greedy ids equal the stories260K reference, block copies
// reach every stage, and bad splits, bad ranges and bad hand-offs are refused
// with clear errors.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "engine/backend/backend_factory.hpp"
#include "engine/backend/split_backend.hpp"
#include "engine/cpu/cpu_backend.hpp"
#include "engine/model/model.hpp"
#include "tests/engine_cpu/greedy_runner.hpp"
#include "tests/engine_cpu/synth_fixture.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/stories_reference.hpp"

namespace llmd::engine {
namespace {

constexpr KvCacheShape kKv{.n_blocks = 32, .block_size = 8, .dtype = KvDtype::f32};

// Every way to give n_layer layers to n_stages stages, each at least one.
std::vector<std::vector<int32_t>> all_splits(int32_t n_layer, int n_stages) {
  if (n_stages == 1) return {{n_layer}};
  std::vector<std::vector<int32_t>> out;
  for (int32_t first = 1; first <= n_layer - (n_stages - 1); ++first) {
    for (auto rest : all_splits(n_layer - first, n_stages - 1)) {
      rest.insert(rest.begin(), first);
      out.push_back(rest);
    }
  }
  return out;
}

std::string describe(const std::vector<int32_t>& split) {
  std::string s;
  for (int32_t n : split) s += (s.empty() ? "" : ",") + std::to_string(n);
  return s;
}

std::unique_ptr<Backend> make_split(const Model& model, const std::vector<int32_t>& split, int threads) {
  BackendOptions o;
  o.threads = threads;
  for (size_t i = 0; i < split.size(); ++i) o.devices.push_back("cpu:" + std::to_string(i));
  o.layer_split = split;
  auto b = make_backend(model, o);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  if (!b.ok()) return nullptr;
  EXPECT_TRUE((*b)->init_kv(kKv).ok());
  return std::move(*b);
}

// Steps of three sequences that mix prefill chunks (with and without logits)
// and decode steps, then greedy decode for all; returns every logit returned.
std::vector<float> run_script(Backend& be, const std::vector<int32_t>& prompt_a, const std::vector<int32_t>& prompt_b) {
  std::vector<float> all;
  // Sequence i owns blocks [10 i, 10 i + 10).
  std::vector<std::vector<int32_t>> tables(3, std::vector<int32_t>(10));
  for (int i = 0; i < 3; ++i) {
    auto& t = tables[static_cast<size_t>(i)];
    std::iota(t.begin(), t.end(), 10 * i);
  }
  const size_t cut = prompt_a.size() / 2;
  const std::vector<int32_t> a1(prompt_a.begin(), prompt_a.begin() + static_cast<ptrdiff_t>(cut));
  const std::vector<int32_t> a2(prompt_a.begin() + static_cast<ptrdiff_t>(cut), prompt_a.end());
  std::vector<int32_t> next(3);
  int32_t pos[3] = {0, 0, 0};
  auto step = [&](ForwardBatch& batch, const std::vector<int>& owner) {
    ForwardOutput out;
    auto st = be.forward(batch, &out);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    all.insert(all.end(), out.logits.begin(), out.logits.end());
    // The last row of each sequence that asked for logits gives its next token.
    int32_t row = 0;
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
      const BatchSeq& s = batch.seqs[i];
      const int32_t rows = s.logits == LogitsMode::all    ? static_cast<int32_t>(s.tokens.size())
                           : s.logits == LogitsMode::last ? 1
                                                          : 0;
      if (rows > 0 && out.n_rows >= row + rows) {
        auto r = out.row(row + rows - 1);
        next[static_cast<size_t>(owner[i])] = static_cast<int32_t>(std::max_element(r.begin(), r.end()) - r.begin());
      }
      row += rows;
      pos[owner[i]] += static_cast<int32_t>(s.tokens.size());
    }
  };
  {  // a: first chunk, no logits; b: whole prompt, every row.
    ForwardBatch b;
    b.seqs.push_back({a1, pos[0], tables[0], LogitsMode::none});
    b.seqs.push_back({prompt_b, pos[1], tables[1], LogitsMode::all});
    step(b, {0, 1});
  }
  {  // a: last chunk; b: decode; c: a one-token prompt.
    const std::vector<int32_t> tb = {next[1]}, tc = {prompt_b[0]};
    ForwardBatch b;
    b.seqs.push_back({a2, pos[0], tables[0], LogitsMode::last});
    b.seqs.push_back({tb, pos[1], tables[1], LogitsMode::last});
    b.seqs.push_back({tc, pos[2], tables[2], LogitsMode::last});
    step(b, {0, 1, 2});
  }
  for (int k = 0; k < 6; ++k) {  // decode all three
    const std::vector<int32_t> t0 = {next[0]}, t1 = {next[1]}, t2 = {next[2]};
    ForwardBatch b;
    b.seqs.push_back({t0, pos[0], tables[0], LogitsMode::last});
    b.seqs.push_back({t1, pos[1], tables[1], LogitsMode::last});
    b.seqs.push_back({t2, pos[2], tables[2], LogitsMode::last});
    step(b, {0, 1, 2});
  }
  return all;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Every 2- and 3-stage split of `model` gives the one-stage logits bit for bit.
void expect_splits_identical(const Model& model, const std::vector<int32_t>& prompt_a,
                             const std::vector<int32_t>& prompt_b) {
  const int32_t n_layer = model.config().n_layer;
  auto one = make_split(model, {n_layer}, 2);
  ASSERT_TRUE(one);
  const std::vector<float> want = run_script(*one, prompt_a, prompt_b);
  ASSERT_FALSE(want.empty());
  for (int stages : {2, 3}) {
    for (const auto& split : all_splits(n_layer, stages)) {
      // Thread counts differ per split: the bits must not depend on them.
      auto be = make_split(model, split, 1 + static_cast<int>(split[0] % 2));
      ASSERT_TRUE(be);
      EXPECT_EQ(be->kv_block_bytes(kKv), one->kv_block_bytes(kKv)) << describe(split);
      EXPECT_TRUE(same_bits(run_script(*be, prompt_a, prompt_b), want)) << "split " << describe(split);
    }
  }
}

std::vector<int32_t> ids(int n, int32_t vocab, int32_t seed) {
  std::vector<int32_t> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<int32_t>((seed * 7919 + i * 104729) % vocab));
  return v;
}

synth::SynthShape four_layer_shape() {
  synth::SynthShape s;
  s.name = "split-gqa";
  s.n_vocab = 320;
  s.n_embd = 64;
  s.n_layer = 4;
  s.n_head = 8;
  s.n_head_kv = 2;
  s.n_ff = 96;
  s.n_ctx = 512;
  return s;
}

TEST(LayerSplit, AllSplitsCoverEveryPosition) {
  EXPECT_EQ(all_splits(5, 2).size(), 4u);
  EXPECT_EQ(all_splits(5, 3).size(), 6u);
}

TEST(LayerSplit, SyntheticSplitsAreBitIdentical) {
  for (const char* type : {"f32", "q8_0"}) {
    SCOPED_TRACE(type);
    auto model = Model::load(test::synth_model_file(four_layer_shape(), type));
    ASSERT_TRUE(model.ok()) << model.error().message;
    // Prompt a spans several KV blocks of 8; b is short.
    expect_splits_identical(**model, ids(21, 320, 3), ids(5, 320, 11));
  }
}

TEST(LayerSplit, StoriesSplitsAreBitIdenticalAndMatchReference) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  auto model = Model::load(test::shared_file("models/stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  const auto cases = test::read_stories_reference();
  ASSERT_EQ(cases.size(), 3u);
  expect_splits_identical(**model, cases[0].prompt_ids, cases[1].prompt_ids);
  const int32_t n_layer = (*model)->config().n_layer;
  for (int stages : {2, 3}) {
    for (const auto& split : all_splits(n_layer, stages)) {
      auto be = make_split(**model, split, 1);
      ASSERT_TRUE(be);
      ASSERT_TRUE(be->init_kv({.n_blocks = 16, .block_size = 16, .dtype = KvDtype::f16}).ok());
      for (const auto& c : cases)
        EXPECT_EQ(test::greedy_generate(*be, c.prompt_ids, 64), c.gen_ids) << describe(split) << ": " << c.prompt;
    }
  }
}

TEST(LayerSplit, EvenSpreadAndStageReport) {
  auto model = Model::load(test::synth_model_file(four_layer_shape(), "f32"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  BackendOptions o;
  o.threads = 1;
  o.devices = {"cpu:0", "cpu:1", "cpu:2"};
  auto b = make_backend(**model, o);
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto* split = dynamic_cast<SplitBackend*>(b->get());
  ASSERT_NE(split, nullptr);
  EXPECT_EQ(split->name(), "cpu:0[0,2)+cpu:1[2,3)+cpu:2[3,4)");
  const auto stages = split->stages();
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[1].device, "cpu:1");
  EXPECT_EQ(stages[1].layers.first, 2);
  EXPECT_EQ(stages[1].layers.last, 3);
  // The stages' converted weights add up to one backend's.
  uint64_t sum = 0;
  for (auto [f, l] : {std::pair{0, 2}, std::pair{2, 3}, std::pair{3, 4}}) {
    auto w = cpu_weight_bytes(**model, f, l);
    ASSERT_TRUE(w.ok());
    sum += *w;
  }
  EXPECT_EQ(sum, *cpu_weight_bytes(**model));
  EXPECT_GE(split->memory_bytes(), sum);
}

TEST(LayerSplit, CopiedBlockServesEveryStage) {
  auto model = Model::load(test::synth_model_file(four_layer_shape(), "f32"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto be = make_split(**model, {1, 3}, 1);
  ASSERT_TRUE(be);
  const auto prompt = ids(6, 320, 5);  // fills part of block 0
  const std::vector<int32_t> t0 = {0, 1}, t1 = {7, 1};
  ForwardBatch b;
  b.seqs.push_back({prompt, 0, t0, LogitsMode::none});
  ForwardOutput out;
  ASSERT_TRUE(be->forward(b, &out).ok());
  ASSERT_TRUE(be->copy_kv_block(0, 7).ok());
  // The same next token over the original and over the copy.
  const std::vector<int32_t> tok = {42};
  ForwardOutput o0, o1;
  b.seqs = {{tok, 6, t0, LogitsMode::last}};
  ASSERT_TRUE(be->forward(b, &o0).ok());
  b.seqs = {{tok, 6, t1, LogitsMode::last}};
  ASSERT_TRUE(be->forward(b, &o1).ok());
  EXPECT_TRUE(same_bits(o0.logits, o1.logits));
  EXPECT_EQ(be->copy_kv_block(0, kKv.n_blocks).error().code, ErrorCode::kv_bad_block);
}

TEST(LayerSplit, RefusedBatchLeavesEveryStageUnchanged) {
  auto model = Model::load(test::synth_model_file(four_layer_shape(), "f32"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto be = make_split(**model, {2, 2}, 1);
  auto ref = make_split(**model, {4}, 1);
  ASSERT_TRUE(be && ref);
  const auto prompt = ids(9, 320, 2), other = ids(9, 320, 9);
  const std::vector<int32_t> table = {0, 1}, bad_tok = {5, 320}, next = {17};
  ForwardBatch b;
  ForwardOutput out;
  for (Backend* x : {be.get(), ref.get()}) {
    b.seqs = {{prompt, 0, table, LogitsMode::none}};
    ASSERT_TRUE(x->forward(b, &out).ok());
  }
  // Sequence 0 would overwrite the prompt's blocks with another prompt;
  // sequence 1 has a token outside the vocabulary, so nothing may be written.
  b.seqs = {{other, 0, table, LogitsMode::last},
            {bad_tok, 0, std::span<const int32_t>(table).subspan(1), LogitsMode::last}};
  auto st = be->forward(b, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::forward_bad_batch);
  EXPECT_NE(st.error().message.find("token id 320"), std::string::npos) << st.error().message;
  // A block outside the pool, a table too short, an empty chunk.
  const std::vector<int32_t> far = {kKv.n_blocks, 1}, short_table = {0};
  b.seqs = {{other, 0, far, LogitsMode::last}};
  EXPECT_EQ(be->forward(b, &out).error().code, ErrorCode::forward_bad_batch);
  b.seqs = {{other, 0, short_table, LogitsMode::last}};
  EXPECT_EQ(be->forward(b, &out).error().code, ErrorCode::forward_bad_batch);
  b.seqs = {{std::span<const int32_t>(), 0, table, LogitsMode::last}};
  EXPECT_EQ(be->forward(b, &out).error().code, ErrorCode::forward_bad_batch);
  // The next token attends over the first prompt's K/V in every stage.
  std::vector<float> got, want;
  for (Backend* x : {be.get(), ref.get()}) {
    ForwardOutput o;
    b.seqs = {{next, 9, table, LogitsMode::last}};
    ASSERT_TRUE(x->forward(b, &o).ok());
    (x == be.get() ? got : want) = o.logits;
  }
  EXPECT_TRUE(same_bits(got, want));
}

TEST(LayerSplit, StageContractIsEnforced) {
  auto model = Model::load(test::synth_model_file(four_layer_shape(), "f32"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto mid = make_cpu_backend(**model, {.threads = 1, .first_layer = 1, .last_layer = 3});
  ASSERT_TRUE(mid.ok()) << mid.error().message;
  const LayerRange r = (*mid)->layer_range();
  EXPECT_EQ(r.first, 1);
  EXPECT_EQ(r.last, 3);
  EXPECT_FALSE(r.is_first());
  EXPECT_FALSE(r.is_last());
  ASSERT_TRUE((*mid)->init_kv(kKv).ok());
  auto whole = make_cpu_backend(**model, {.threads = 1});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ((*mid)->kv_block_bytes(kKv) * 2, (*whole)->kv_block_bytes(kKv));  // 2 of 4 layers
  EXPECT_EQ((*whole)->layer_range().first, 0);
  EXPECT_TRUE((*whole)->layer_range().is_last());

  const std::vector<int32_t> tokens = {1, 2, 3}, table = {0};
  ForwardBatch b;
  b.seqs.push_back({tokens, 0, table, LogitsMode::last});
  ForwardOutput out;
  // A middle stage is no whole model, needs hidden rows of the right shape,
  // and gives hidden rows, not logits.
  EXPECT_EQ((*mid)->forward(b, &out).error().code, ErrorCode::forward_bad_batch);
  HiddenRows hidden;
  EXPECT_EQ((*mid)->forward_stage(b, nullptr, nullptr, &hidden).error().code, ErrorCode::forward_bad_batch);
  HiddenRows in{.n_rows = 2, .n_embd = 64, .data = std::vector<float>(2 * 64, 0.5f)};
  auto st = (*mid)->forward_stage(b, &in, nullptr, &hidden);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::forward_bad_batch);
  EXPECT_NE(st.error().message.find("hidden rows"), std::string::npos) << st.error().message;
  EXPECT_EQ((*mid)->forward_stage(b, &in, &out, nullptr).error().code, ErrorCode::forward_bad_batch);
  in = {.n_rows = 3, .n_embd = 64, .data = std::vector<float>(3 * 64, 0.5f)};
  ASSERT_TRUE((*mid)->forward_stage(b, &in, nullptr, &hidden).ok());
  EXPECT_EQ(hidden.n_rows, 3);  // every token, whatever LogitsMode asks
  EXPECT_EQ(hidden.n_embd, 64);
  EXPECT_EQ(hidden.data.size(), 3u * 64u);
  // A whole-model backend takes no hidden rows.
  ASSERT_TRUE((*whole)->init_kv(kKv).ok());
  EXPECT_EQ((*whole)->forward_stage(b, &in, &out, nullptr).error().code, ErrorCode::forward_bad_batch);
  EXPECT_TRUE((*whole)->forward_stage(b, nullptr, &out, nullptr).ok());
}

TEST(LayerSplit, BadRangesAreRefused) {
  auto model = Model::load(test::synth_model_file(four_layer_shape(), "f32"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  for (auto [f, l] : {std::pair{2, 2}, std::pair{-1, 2}, std::pair{3, 5}, std::pair{4, -1}}) {
    auto b = make_cpu_backend(**model, {.threads = 1, .first_layer = f, .last_layer = l});
    ASSERT_FALSE(b.ok()) << f << ", " << l;
    EXPECT_EQ(b.error().code, ErrorCode::invalid_argument);
  }
}

TEST(LayerSplit, BadSplitsGiveClearErrors) {
  auto model = Model::load(test::synth_model_file(four_layer_shape(), "f32"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto expect = [&](std::vector<std::string> devices, std::vector<int32_t> split, const std::string& words) {
    BackendOptions o;
    o.threads = 1;
    o.devices = std::move(devices);
    o.layer_split = std::move(split);
    auto b = make_backend(**model, o);
    ASSERT_FALSE(b.ok()) << words;
    EXPECT_EQ(b.error().code, ErrorCode::invalid_argument) << b.error().message;
    EXPECT_NE(b.error().message.find(words), std::string::npos) << b.error().message;
  };
  expect({"cpu:0", "cpu:1"}, {3, 2}, "sums to 5 layers; the model has 4");
  expect({"cpu:0", "cpu:1"}, {1, 2}, "sums to 3 layers; the model has 4");
  expect({"cpu:0", "cpu:1"}, {4, 0}, "at least 1");
  expect({"cpu:0", "cpu:1"}, {4}, "1 counts for 2 devices");
  expect({"cpu:0", "tpu:1"}, {}, "unknown device 'tpu:1'");
  expect({"cpu:0", "cpu:1", "cpu:2", "cpu:3", "cpu:4"}, {}, "cannot split 4 layers over 5 devices");
  expect({}, {2, 2}, "2 counts for 1 devices");

  EXPECT_EQ(parse_device_list("cpu:0,,cpu:1").error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(parse_device_list("gpu").error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(*parse_device_list("cpu:0,cuda:1"), (std::vector<std::string>{"cpu:0", "cuda:1"}));
  EXPECT_EQ(*parse_layer_split("3,2"), (std::vector<int32_t>{3, 2}));
  for (const char* bad : {"", "3,", "3,0", "a,2", "-1,5", "3 2"})
    EXPECT_EQ(parse_layer_split(bad).error().code, ErrorCode::invalid_argument) << bad;
  auto even = plan_layer_split(5, 3, {});
  ASSERT_TRUE(even.ok());
  EXPECT_EQ((*even)[0].count(), 2);
  EXPECT_EQ((*even)[1].count(), 2);
  EXPECT_EQ((*even)[2].count(), 1);
  EXPECT_EQ((*even)[2].last, 5);
  // Stages that do not cover the model in order.
  std::vector<SplitStage> gap;
  auto s0 = make_cpu_backend(**model, {.threads = 1, .first_layer = 0, .last_layer = 1});
  auto s1 = make_cpu_backend(**model, {.threads = 1, .first_layer = 2, .last_layer = 4});
  ASSERT_TRUE(s0.ok() && s1.ok());
  gap.push_back({"cpu:0", std::move(*s0)});
  gap.push_back({"cpu:1", std::move(*s1)});
  auto g = make_split_backend(std::move(gap), 4, 320);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("should start at layer 1"), std::string::npos) << g.error().message;
}

}  // namespace
}  // namespace llmd::engine
