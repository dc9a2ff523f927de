// Host-side step planning of the CUDA backend (no device needed): batch
// validation, splitting into steps, logits row order, attention tiles and
// the packed input layout.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/step_plan.hpp"

namespace llmd::engine::cuda {
namespace {

PlanLimits limits(int max_tokens = 64, int max_seqs = 8, bool tiled = true) {
  PlanLimits l;
  l.n_vocab = 100;
  l.max_pos = 1000;
  l.n_blocks = 64;
  l.block_size = 16;
  l.max_tokens = max_tokens;
  l.max_seqs = max_seqs;
  l.tiled_attention = tiled;
  return l;
}

struct Owned {
  std::vector<std::vector<int32_t>> tokens, tables;
  ForwardBatch batch;
  void add(int n, int pos, LogitsMode /*mode*/, int first_block = 0) {
    tokens.emplace_back(static_cast<size_t>(n));
    std::iota(tokens.back().begin(), tokens.back().end(), 1);
    const int blocks = (pos + n + 15) / 16;
    tables.emplace_back(static_cast<size_t>(blocks));
    std::iota(tables.back().begin(), tables.back().end(), first_block);
  }
  ForwardBatch& build(const std::vector<std::pair<int, LogitsMode>>& spec_pos_mode, const std::vector<int>& pos) {
    batch.seqs.clear();
    for (size_t i = 0; i < tokens.size(); ++i) {
      BatchSeq s;
      s.tokens = tokens[i];
      s.pos = pos[i];
      s.block_table = tables[i];
      s.logits = spec_pos_mode[i].second;
      batch.seqs.push_back(s);
    }
    return batch;
  }
};

TEST(CudaStepPlan, ValidationNamesTheProblem) {
  std::vector<int32_t> toks = {1, 2, 3}, table = {5};
  ForwardBatch b;
  BatchSeq s;
  s.tokens = toks;
  s.block_table = table;
  b.seqs.push_back(s);
  EXPECT_TRUE(validate_batch(b, limits()).ok());

  std::vector<int32_t> bad_tok = {1, 100};
  b.seqs[0].tokens = bad_tok;
  Status st = validate_batch(b, limits());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, errc::kBadBatch);
  EXPECT_NE(st.error().message.find("token id 100"), std::string::npos);

  b.seqs[0].tokens = toks;
  b.seqs[0].pos = 14;  // needs 2 blocks
  EXPECT_FALSE(validate_batch(b, limits()).ok());
  b.seqs[0].pos = -1;
  EXPECT_FALSE(validate_batch(b, limits()).ok());
  b.seqs[0].pos = 998;  // past max_pos
  EXPECT_FALSE(validate_batch(b, limits()).ok());
  b.seqs[0].pos = 0;
  std::vector<int32_t> bad_table = {64};
  b.seqs[0].block_table = bad_table;
  EXPECT_FALSE(validate_batch(b, limits()).ok());
  b.seqs[0].block_table = table;
  b.seqs[0].tokens = {};
  EXPECT_FALSE(validate_batch(b, limits()).ok());
}

TEST(CudaStepPlan, DecodeBatchIsOneStep) {
  Owned o;
  for (int i = 0; i < 5; ++i) o.add(1, 20 + i, LogitsMode::last, 2 * i);
  auto& b = o.build({{0, LogitsMode::last}, {0, LogitsMode::last}, {0, LogitsMode::last}, {0, LogitsMode::last},
                     {0, LogitsMode::last}},
                    {20, 21, 22, 23, 24});
  auto steps = plan_steps(b, limits(), true);
  ASSERT_EQ(steps.size(), 1u);
  const StepPlan& p = steps[0];
  EXPECT_TRUE(p.all_decode);
  EXPECT_EQ(p.rows, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(p.dlist, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(p.tiles.empty());
  EXPECT_EQ(p.bt_stride, 8);  // 2 blocks needed, rounded up to a power of two (at least 8)
  EXPECT_EQ(p.block_tables[8 * 3 + 1], 7);
  EXPECT_EQ(p.max_ctx, 25);
  EXPECT_EQ(p.pos, (std::vector<int32_t>{20, 21, 22, 23, 24}));
}

TEST(CudaStepPlan, LongChunksAreSplitAcrossStepsInOrder) {
  Owned o;
  o.add(100, 0, LogitsMode::all);
  o.add(1, 30, LogitsMode::last, 10);
  o.add(50, 7, LogitsMode::last, 20);
  auto& b = o.build({{0, LogitsMode::all}, {0, LogitsMode::last}, {0, LogitsMode::last}}, {0, 30, 7});
  auto steps = plan_steps(b, limits(64, 8, true), false);
  // 100 tokens -> 64 | 36 + 1 + 27 | 23
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].tokens.size(), 64u);
  EXPECT_EQ(steps[0].rows.size(), 64u);  // LogitsMode::all
  EXPECT_EQ(steps[1].n_seqs, 3);
  EXPECT_EQ(steps[1].pos[0], 64);       // continued chunk
  EXPECT_EQ(steps[1].rows.size(), 36u + 1u);  // rest of seq 0, then seq 1; seq 2 not finished
  EXPECT_EQ(steps[2].tokens.size(), 23u);
  EXPECT_EQ(steps[2].pos[0], 7 + 27);
  ASSERT_EQ(steps[2].rows.size(), 1u);
  EXPECT_EQ(steps[2].rows[0], 22);  // last token of the step
  size_t rows = 0;
  for (const auto& s : steps) rows += s.rows.size();
  EXPECT_EQ(rows, 100u + 1u + 1u);
  // Tiles: chunks of more than one token, at most 64 rows, heaviest first.
  for (const auto& s : steps) {
    for (size_t i = 0; i + 1 < s.tiles.size(); ++i) {
      EXPECT_GE(s.tiles[i].pos0 + s.tiles[i].n_rows, s.tiles[i + 1].pos0 + s.tiles[i + 1].n_rows);
    }
    for (const auto& t : s.tiles) {
      EXPECT_GE(t.n_rows, 1);
      EXPECT_LE(t.n_rows, 64);
      EXPECT_EQ(s.pos[static_cast<size_t>(t.tok0)], t.pos0);
    }
  }
  EXPECT_EQ(steps[1].dlist, (std::vector<int32_t>{36}));  // the single decode token
}

TEST(CudaStepPlan, UntiledAttentionListsEveryToken) {
  Owned o;
  o.add(10, 0, LogitsMode::none);
  auto& b = o.build({{0, LogitsMode::none}}, {0});
  auto steps = plan_steps(b, limits(64, 8, false), false);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_TRUE(steps[0].rows.empty());
  EXPECT_TRUE(steps[0].tiles.empty());
  EXPECT_EQ(steps[0].dlist.size(), 10u);
  EXPECT_EQ(steps[0].max_ctx, 10);
}

TEST(CudaStepPlan, SequenceLimitStartsANewStep) {
  Owned o;
  std::vector<std::pair<int, LogitsMode>> spec;
  std::vector<int> pos;
  for (int i = 0; i < 10; ++i) {
    o.add(1, 0, LogitsMode::last, i);
    spec.push_back({0, LogitsMode::last});
    pos.push_back(0);
  }
  auto steps = plan_steps(o.build(spec, pos), limits(64, 4, true), false);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].n_seqs, 4);
  EXPECT_EQ(steps[2].n_seqs, 2);
}

TEST(CudaStepPlan, PackedLayoutHoldsEveryArray) {
  Owned o;
  o.add(70, 3, LogitsMode::all);
  o.add(1, 9, LogitsMode::last, 30);
  auto& b = o.build({{0, LogitsMode::all}, {0, LogitsMode::last}}, {3, 9});
  auto steps = plan_steps(b, limits(128, 8, true), false);
  ASSERT_EQ(steps.size(), 1u);
  const StepPlan& p = steps[0];
  const StepLayout l = step_layout(p);
  EXPECT_EQ(l.seeds % 2, 0u);
  std::vector<int32_t> words(l.total, -7);
  std::vector<uint64_t> seeds(p.rows.size());
  std::iota(seeds.begin(), seeds.end(), uint64_t{1} << 40);
  write_step_inputs(p, l, 192, seeds, words.data());
  EXPECT_EQ(words[l.split_len], 192);
  for (size_t i = 0; i < p.tokens.size(); ++i) {
    EXPECT_EQ(words[l.tokens + i], p.tokens[i]);
    EXPECT_EQ(words[l.pos + i], p.pos[i]);
    EXPECT_EQ(words[l.seq + i], p.seq[i]);
  }
  for (size_t i = 0; i < p.rows.size(); ++i) {
    EXPECT_EQ(words[l.rows + i], p.rows[i]);
    uint64_t s;
    std::memcpy(&s, &words[l.seeds + 2 * i], 8);
    EXPECT_EQ(s, seeds[i]);
  }
  ASSERT_EQ(p.tiles.size(), 2u);
  EXPECT_EQ(words[l.tiles + 0], p.tiles[0].tok0);
  EXPECT_EQ(words[l.tiles + 5], p.tiles[1].n_rows);
  EXPECT_EQ(words[l.block_tables + static_cast<size_t>(p.bt_stride)], 30);
  EXPECT_EQ(p.dlist, (std::vector<int32_t>{70}));
}

}  // namespace
}  // namespace llmd::engine::cuda
