// Test helper: runs a backend over one sequence with a trivial block table.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "engine/backend/backend.hpp"

namespace llmd::test {

// Prefills `prompt` (logits of every prompt position appended to *prompt_logits
// when given) and greedily generates n tokens.
inline std::vector<int32_t> greedy_generate(engine::Backend& be, const std::vector<int32_t>& prompt, int n,
                                            std::vector<std::vector<float>>* prompt_logits = nullptr,
                                            int block_size = 16) {
  std::vector<int32_t> table(static_cast<size_t>((prompt.size() + n + block_size) / block_size + 1));
  std::iota(table.begin(), table.end(), 0);
  engine::ForwardBatch batch;
  engine::BatchSeq seq;
  seq.tokens = prompt;
  seq.pos = 0;
  seq.block_table = table;
  seq.logits = prompt_logits ? engine::LogitsMode::all : engine::LogitsMode::last;
  batch.seqs.push_back(seq);
  engine::ForwardOutput out;
  auto st = be.forward(batch, &out);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  if (!st.ok()) return {};
  if (prompt_logits) {
    for (int32_t r = 0; r < out.n_rows; ++r) prompt_logits->emplace_back(out.row(r).begin(), out.row(r).end());
  }
  std::vector<int32_t> gen;
  auto argmax = [](std::span<const float> v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
  };
  int32_t next = argmax(out.row(out.n_rows - 1));
  int32_t pos = static_cast<int32_t>(prompt.size());
  for (int i = 0; i < n; ++i) {
    gen.push_back(next);
    if (i + 1 == n) break;
    std::vector<int32_t> tok = {next};
    batch.seqs[0].tokens = tok;
    batch.seqs[0].pos = pos++;
    batch.seqs[0].logits = engine::LogitsMode::last;
    st = be.forward(batch, &out);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    if (!st.ok()) break;
    next = argmax(out.row(0));
  }
  return gen;
}

}  // namespace llmd::test
