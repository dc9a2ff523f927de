// The CUDA sampling kernel's algorithm (engine/cuda/kernels/sample_rows_block.hpp)
// run on the host: a thread block of 64 threads with barriers and warp
// exchanges stands in for the GPU's, so CI checks the kernel's own source —
// its radix selection, ordered scans, reductions and barriers — against
// choose_token: the same token for every parameter set, penalties, bias,
// masks and log-probabilities, and the hand-back to the host for a flat
// top-p row. What this cannot check is CUDA itself (intrinsics, the memory
// model, launch limits): that is the GPU test's part
// (tests/engine_cuda/sample_rows_test.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/cuda/kernels/sample_rows_block.hpp"
#include "engine/sampling/rng.hpp"
#include "engine/sampling/sampler.hpp"
#include "tests/support/sample_cases.hpp"

namespace llmd::engine::cuda {
namespace {

// Two warps of 32 threads.
struct HostBlock {
  static constexpr int kThreads = 64;
  struct Team {
    std::barrier<> all{kThreads};
    std::barrier<> warp0{32}, warp1{32};
    uint64_t slots[kThreads] = {};
  };
  Team* team;
  int t;

  int tid() const { return t; }
  void sync() const { team->all.arrive_and_wait(); }
  template <typename T>
  T shfl_xor(T v, int o) const {
    static_assert(sizeof(T) <= sizeof(uint64_t));
    std::barrier<>& warp = t < 32 ? team->warp0 : team->warp1;
    std::memcpy(&team->slots[t], &v, sizeof v);
    warp.arrive_and_wait();
    T r;
    std::memcpy(&r, &team->slots[(t & ~31) | ((t & 31) ^ o)], sizeof r);
    warp.arrive_and_wait();
    return r;
  }
  void atomic_add(int* p, int v) const { std::atomic_ref<int>(*p).fetch_add(v, std::memory_order_relaxed); }
};

// Runs every plan as the kernel would, one block after another.
std::vector<DeviceSampleResult> run_blocks(const std::vector<float>& logits, int vocab,
                                           const std::vector<DeviceSamplePlan>& plans,
                                           const std::vector<LogitEdit>& edits, const std::vector<uint64_t>& masks) {
  std::vector<DeviceSampleResult> results(plans.size());
  std::vector<float> work(plans.size() * static_cast<size_t>(vocab));
  auto shared = std::make_unique<SampleShared<HostBlock>>();
  HostBlock::Team team;
  std::vector<std::thread> threads;
  for (int t = 0; t < HostBlock::kThreads; ++t) {
    threads.emplace_back([&, t] {
      const HostBlock blk{&team, t};
      for (size_t b = 0; b < plans.size(); ++b) {
        sample_row_in_block(blk, static_cast<int>(b), logits.data(), vocab, plans.data(), edits.data(), masks.data(),
                            work.data(), results.data(), *shared);
        blk.sync();  // the block's shared memory is the next one's
      }
    });
  }
  for (std::thread& th : threads) th.join();
  return results;
}

// The plans' flat form, as device_sampler.cpp builds it.
struct Flat {
  std::vector<DeviceSamplePlan> plans;
  std::vector<LogitEdit> edits;
  std::vector<uint64_t> masks;
};

Flat flatten(const std::vector<std::pair<int32_t, const SamplePlan*>>& samples, int vocab) {
  Flat f;
  const auto mask_words = static_cast<size_t>((vocab + 63) / 64);
  for (const auto& [row, p] : samples) {
    DeviceSamplePlan d;
    d.row = row;
    d.edit_begin = static_cast<int32_t>(f.edits.size());
    d.edit_count = static_cast<int32_t>(p->edits.size());
    f.edits.insert(f.edits.end(), p->edits.begin(), p->edits.end());
    if (p->has_mask) {
      const size_t words = std::min(p->allowed.size(), mask_words);
      d.mask_begin = static_cast<int32_t>(f.masks.size());
      d.mask_words = static_cast<int32_t>(words);
      f.masks.insert(f.masks.end(), p->allowed.begin(), p->allowed.begin() + static_cast<std::ptrdiff_t>(words));
    }
    d.greedy = p->greedy;
    d.top_k = p->top_k;
    d.inv_t = p->inv_t;
    d.top_p = p->top_p;
    d.min_p = p->min_p;
    d.logprobs = p->logprobs || p->n_logprobs > 0;
    d.n_logprobs = p->n_logprobs;
    d.u = p->u;
    f.plans.push_back(d);
  }
  if (f.edits.empty()) f.edits.push_back({});
  if (f.masks.empty()) f.masks.push_back(0);
  return f;
}

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Every sample through the block algorithm against choose_token; returns how
// many the block handed back to the host.
int expect_blocks_equal_choose_token(const std::vector<float>& logits, int vocab,
                                     const std::vector<std::pair<int32_t, const SamplePlan*>>& samples,
                                     const std::string& what) {
  const Flat f = flatten(samples, vocab);
  const std::vector<DeviceSampleResult> got = run_blocks(logits, vocab, f.plans, f.edits, f.masks);
  int handed_back = 0;
  for (size_t k = 0; k < samples.size(); ++k) {
    const auto [row, plan] = samples[k];
    const std::string where = what + ", sample " + std::to_string(k) + " (row " + std::to_string(row) + ")";
    if (got[k].status == SampleStatus::host) {
      ++handed_back;
      EXPECT_FALSE(plan->greedy) << where << ": only top-p draws go back to the host";
      EXPECT_LT(plan->top_p, 1.0f) << where;
      continue;
    }
    const std::span<const float> r(logits.data() + static_cast<size_t>(row) * vocab, static_cast<size_t>(vocab));
    const SampledToken want = choose_token(r, *plan);
    EXPECT_EQ(got[k].id, want.id) << where;
    if (plan->logprobs || plan->n_logprobs > 0) {
      EXPECT_TRUE(same_float(got[k].logprob, want.logprob)) << where << ": " << got[k].logprob << " vs " << want.logprob;
      EXPECT_EQ(static_cast<size_t>(got[k].n_top), want.top_logprobs.size()) << where;
      if (static_cast<size_t>(got[k].n_top) != want.top_logprobs.size()) continue;
      for (size_t j = 0; j < want.top_logprobs.size(); ++j) {
        EXPECT_EQ(got[k].top[j].id, want.top_logprobs[j].id) << where << ", top " << j;
        EXPECT_TRUE(same_float(got[k].top[j].logprob, want.top_logprobs[j].logprob)) << where << ", top " << j;
      }
    }
  }
  return handed_back;
}

TEST(SampleRowsBlock, EqualsChooseTokenForEveryParameterSetAndLogprobs) {
  Rng rng(2024);
  for (const int vocab : {300, 32000}) {
    const int rows = 6;
    const std::vector<float> logits = test::sample_test_rows(rng, rows, vocab);
    const auto& sets = test::sample_parameter_sets();
    std::vector<SamplePlan> plans;
    plans.reserve(sets.size() * rows * 3);
    std::vector<std::pair<int32_t, const SamplePlan*>> samples;
    for (const test::SampleParams& p : sets) {
      for (int r = 0; r < rows; ++r) {
        for (int draw = 0; draw < 3; ++draw) {
          plans.push_back(test::sample_plan_of(p, rng.uniform()));
          plans.back().logprobs = draw >= 1;
          plans.back().n_logprobs = draw == 2 ? (r % 2 ? 20 : 3) : 0;
          samples.push_back({r, &plans.back()});
        }
      }
    }
    expect_blocks_equal_choose_token(logits, vocab, samples, "vocab " + std::to_string(vocab));
  }
}

TEST(SampleRowsBlock, PenaltiesBiasAndMasksAsOnTheHost) {
  Rng rng(77);
  const int vocab = 5000, rows = 5;
  const std::vector<float> logits = test::sample_test_rows(rng, rows, vocab);
  std::vector<SamplePlan> plans;
  std::vector<std::vector<uint64_t>> masks;
  const auto samples = test::penalty_samples(rng, rows, vocab, &plans, &masks);
  expect_blocks_equal_choose_token(logits, vocab, samples, "penalties, bias, masks");
}

// A flat row's top-p nucleus is far from the shortlist: the block hands it
// back; a peaked row's is found on the block.
TEST(SampleRowsBlock, FlatTopPGoesBackToTheHostAndPeakedStays) {
  Rng rng(5);
  const int vocab = 20000;
  std::vector<float> logits(2 * static_cast<size_t>(vocab));
  for (int i = 0; i < vocab; ++i) logits[i] = static_cast<float>(rng.uniform() * 0.02 - 0.01);
  for (int i = 0; i < vocab; ++i) logits[vocab + i] = static_cast<float>(rng.uniform() * 10.0 - 20.0);
  for (int i = 0; i < 10; ++i) logits[vocab + i * 1999] = static_cast<float>(i) * 0.5f;
  std::vector<SamplePlan> plans;
  plans.reserve(16);
  std::vector<std::pair<int32_t, const SamplePlan*>> samples;
  for (int k = 0; k < 8; ++k) {
    plans.push_back(test::sample_plan_of({"flat", false, 1.0f, 0, 0.5f, 0.0f}, rng.uniform()));
    samples.push_back({0, &plans.back()});
  }
  for (int k = 0; k < 8; ++k) {
    plans.push_back(test::sample_plan_of({"peaked", false, 1.0f, 0, 0.9f, 0.0f}, rng.uniform()));
    samples.push_back({1, &plans.back()});
  }
  EXPECT_EQ(expect_blocks_equal_choose_token(logits, vocab, samples, "top-p"), 8);
}

}  // namespace
}  // namespace llmd::engine::cuda
