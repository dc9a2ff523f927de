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

struct Params {
  const char* name;
  bool greedy;
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
};

const Params kSets[] = {
    {"greedy", true, 1.0f, 0, 1.0f, 0.0f},          {"t0.8", false, 0.8f, 0, 1.0f, 0.0f},
    {"t1", false, 1.0f, 0, 1.0f, 0.0f},             {"t0.8_top_p0.95", false, 0.8f, 0, 0.95f, 0.0f},
    {"t1_top_p0.5", false, 1.0f, 0, 0.5f, 0.0f},    {"t1.5_top_p0.9", false, 1.5f, 0, 0.9f, 0.0f},
    {"top_k1", false, 1.0f, 1, 1.0f, 0.0f},         {"top_k40", false, 1.0f, 40, 1.0f, 0.0f},
    {"top_k128_t0.7", false, 0.7f, 128, 1.0f, 0.0f}, {"top_k40_p0.9_min_p0.05", false, 0.9f, 40, 0.9f, 0.05f},
    {"min_p0.1", false, 1.0f, 0, 1.0f, 0.1f},       {"top_p0.9_min_p0.2_t2", false, 2.0f, 0, 0.9f, 0.2f},
};

SamplePlan plan_of(const Params& p, double u) {
  SamplePlan plan;
  plan.greedy = p.greedy;
  plan.inv_t = p.greedy ? 1.0f : 1.0f / p.temperature;
  plan.plain_t = p.temperature == 1.0f;
  plan.top_k = p.top_k;
  plan.top_p = p.top_p;
  plan.min_p = p.min_p;
  plan.u = p.greedy ? 0.0 : u;
  return plan;
}

// Peaked and flat rows, a tie at the top, NaN and +inf, a row of -inf,
// zeros of both signs tied.
std::vector<float> test_rows(Rng& rng, int rows, int vocab) {
  std::vector<float> l(static_cast<size_t>(rows) * static_cast<size_t>(vocab));
  for (int r = 0; r < rows; ++r) {
    const float scale = r % 3 == 2 ? 1.0f : 12.0f;
    for (int i = 0; i < vocab; ++i)
      l[static_cast<size_t>(r) * vocab + i] = static_cast<float>(rng.uniform() * 2.0 - 1.0) * scale;
  }
  auto at = [&](int r, int i) -> float& { return l[static_cast<size_t>(r) * static_cast<size_t>(vocab) + i]; };
  if (rows > 1) at(1, 7) = at(1, vocab - 3) = 50.0f;
  if (rows > 3) {
    at(3, 11) = std::numeric_limits<float>::quiet_NaN();
    at(3, 12) = std::numeric_limits<float>::infinity();
  }
  if (rows > 4)
    for (int i = 0; i < vocab; ++i) at(4, i) = -std::numeric_limits<float>::infinity();
  if (rows > 5)
    for (int i = 0; i < vocab; ++i) at(5, i) = i % 2 ? 0.0f : -0.0f;
  return l;
}

TEST(SampleRowsBlock, EqualsChooseTokenForEveryParameterSetAndLogprobs) {
  Rng rng(2024);
  for (const int vocab : {300, 32000}) {
    const int rows = 6;
    const std::vector<float> logits = test_rows(rng, rows, vocab);
    std::vector<SamplePlan> plans;
    plans.reserve(std::size(kSets) * rows * 3);
    std::vector<std::pair<int32_t, const SamplePlan*>> samples;
    for (const Params& p : kSets) {
      for (int r = 0; r < rows; ++r) {
        for (int draw = 0; draw < 3; ++draw) {
          plans.push_back(plan_of(p, rng.uniform()));
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
  const std::vector<float> logits = test_rows(rng, rows, vocab);
  std::vector<int32_t> prompt, generated;
  for (int i = 0; i < 300; ++i) prompt.push_back(static_cast<int32_t>(rng.next() % vocab));
  for (int i = 0; i < 80; ++i) generated.push_back(static_cast<int32_t>(rng.next() % 200));
  std::vector<uint64_t> mask((vocab + 63) / 64, 0), three((vocab + 63) / 64, 0);
  for (int i = 0; i < 400; ++i) {
    const auto id = static_cast<size_t>(rng.next() % vocab);
    mask[id / 64] |= uint64_t{1} << (id % 64);
  }
  for (const int id : {5, 900, vocab - 1}) three[id / 64] |= uint64_t{1} << (id % 64);
  std::vector<SamplePlan> plans;
  plans.reserve(std::size(kSets) * rows * 3);
  std::vector<std::pair<int32_t, const SamplePlan*>> samples;
  for (const Params& p : kSets) {
    SamplingParams sp;
    sp.temperature = p.greedy ? 0.0f : p.temperature;
    sp.top_k = p.top_k;
    sp.top_p = p.top_p;
    sp.min_p = p.min_p;
    sp.repetition_penalty = 1.3f;
    sp.repetition_window = 256;
    sp.presence_penalty = 0.4f;
    sp.frequency_penalty = 0.3f;
    sp.logit_bias = {{17, 30.0f}, {42, -100.0f}, {17, -5.0f}, {vocab - 1, 12.0f}};
    sp.seed = rng.next();
    Sampler sampler(sp);
    for (int r = 0; r < rows; ++r) {
      plans.push_back(sampler.plan(vocab, prompt, generated));
      samples.push_back({r, &plans.back()});
      plans.push_back(sampler.plan(vocab, prompt, generated));
      plans.back().has_mask = true;
      plans.back().allowed = mask;
      samples.push_back({r, &plans.back()});
      plans.push_back(sampler.plan(vocab, prompt, generated));
      plans.back().has_mask = true;
      plans.back().allowed = three;  // fewer tokens allowed than top-k keeps
      plans.back().n_logprobs = 4;
      samples.push_back({r, &plans.back()});
    }
  }
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
    plans.push_back(plan_of({"flat", false, 1.0f, 0, 0.5f, 0.0f}, rng.uniform()));
    samples.push_back({0, &plans.back()});
  }
  for (int k = 0; k < 8; ++k) {
    plans.push_back(plan_of({"peaked", false, 1.0f, 0, 0.9f, 0.0f}, rng.uniform()));
    samples.push_back({1, &plans.back()});
  }
  EXPECT_EQ(expect_blocks_equal_choose_token(logits, vocab, samples, "top-p"), 8);
}

}  // namespace
}  // namespace llmd::engine::cuda
