// Fair share under closed-loop clients, the way real tools behave: every
// client sends its next request only after the previous one has returned
// (one step later, as a network round trip would be). Equal-length requests
// then finish together, so without preemption a team can never hold more
// slots than it had waiting at the instant they freed. The loop is stepped
// on the test thread over the real stories260K model, so runs are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

struct ClientGroup {
  std::string team;
  double weight = 1.0;
  int clients = 1;
  Priority priority = Priority::interactive;
  int prompt_len = 16;   // 0: 8..40 at random
  int max_tokens = 64;   // 0: 8..96 at random
};

struct TeamResult {
  uint64_t completion_tokens = 0;  // delivered to clients during the measured window
  std::vector<int> ttft_steps;     // per request started in the window: steps until its first token
};

class ClosedLoop {
 public:
  ClosedLoop(LoadedModel& m, std::vector<ClientGroup> groups, SchedulerConfig cfg = base_config())
      : groups_(std::move(groups)), rng_(7) {
    s_ = make_scheduler(m, cfg);
    for (size_t g = 0; g < groups_.size(); ++g) {
      for (int i = 0; i < groups_[g].clients; ++i) clients_.push_back(std::make_unique<Client>(Client{g}));
    }
  }

  static SchedulerConfig base_config() {
    SchedulerConfig cfg;
    cfg.max_seqs = 16;
    cfg.max_choices = 1;
    cfg.max_batched_tokens = 256;
    cfg.max_waiting = 4096;
    cfg.max_waiting_per_team = 4096;
    cfg.share_preemption.service_gap = 64;
    return cfg;
  }

  // Runs `steps` steps; results count from step `measure_from` on.
  std::map<std::string, TeamResult> run(int steps, int measure_from) {
    std::map<std::string, TeamResult> out;
    for (const auto& g : groups_) out[g.team];
    for (step_ = 0; step_ < steps; ++step_) {
      for (auto& c : clients_) {
        if (!c->busy && step_ >= c->next_at) submit(*c);
      }
      s_->step();
      for (auto& c : clients_) {
        const std::string& team = groups_[c->group].team;
        if (step_ >= measure_from) out[team].completion_tokens += c->new_tokens;
        c->new_tokens = 0;
        if (c->first_token_step >= 0 && !c->ttft_recorded) {
          c->ttft_recorded = true;
          if (c->submitted_at >= measure_from) out[team].ttft_steps.push_back(c->first_token_step - c->submitted_at + 1);
        }
        if (c->busy && c->done) {
          c->busy = false;
          c->next_at = step_ + 2;  // its answer arrives, it sends the next one
        }
      }
    }
    return out;
  }

  const SchedulerStats stats() const { return s_->stats(); }

 private:
  struct Client {
    size_t group = 0;
    bool busy = false;
    bool done = false;
    bool ttft_recorded = false;
    int next_at = 0;
    int submitted_at = 0;
    int first_token_step = -1;
    uint64_t new_tokens = 0;
  };

  void submit(Client& c) {
    const ClientGroup& g = groups_[c.group];
    const int len = g.prompt_len > 0 ? g.prompt_len : 8 + static_cast<int>(rng_() % 33);
    const int max_tokens = g.max_tokens > 0 ? g.max_tokens : 8 + static_cast<int>(rng_() % 89);
    std::vector<int32_t> prompt(static_cast<size_t>(len));
    prompt[0] = 1;
    for (size_t i = 1; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(3 + rng_() % 500);
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0.0f;
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    r.team = g.team;
    r.team_weight = g.weight;
    r.priority = g.priority;
    r.cache_salt = g.team;
    Client* self = &c;
    const int* step = &step_;
    r.on_event = [self, step](StreamEvent&& ev) {
      if (!ev.tokens.empty() && self->first_token_step < 0) self->first_token_step = *step;
      self->new_tokens += ev.tokens.size();
      if (ev.done) self->done = true;
    };
    c.busy = true;
    c.done = false;
    c.ttft_recorded = false;
    c.first_token_step = -1;
    c.submitted_at = step_;
    auto id = s_->submit(std::move(r));
    ASSERT_TRUE(id) << id.error().message;
  }

  std::vector<ClientGroup> groups_;
  std::mt19937 rng_;
  // The sinks write into clients and read step_: the scheduler (which ends
  // every pending request when destroyed) goes first.
  std::vector<std::unique_ptr<Client>> clients_;
  int step_ = 0;
  std::unique_ptr<Scheduler> s_;
};

double share(const std::map<std::string, TeamResult>& r, const std::string& team) {
  uint64_t total = 0;
  for (const auto& [t, v] : r) total += v.completion_tokens;
  return total == 0 ? 0.0 : static_cast<double>(r.at(team).completion_tokens) / static_cast<double>(total);
}

void print_shares(const ClosedLoop& loop, const std::map<std::string, TeamResult>& r) {
  std::string line;
  for (const auto& [t, v] : r) line += t + " " + std::to_string(share(r, t)).substr(0, 5) + "  ";
  uint64_t total = 0;
  for (const auto& [t, v] : r) total += v.completion_tokens;
  std::printf("  shares: %s share preemptions %llu (%.1f per 1,000 tokens)\n", line.c_str(),
              static_cast<unsigned long long>(loop.stats().share_preemptions),
              1000.0 * static_cast<double>(loop.stats().share_preemptions) / static_cast<double>(std::max<uint64_t>(1, total)));
}

uint64_t total_tokens(const std::map<std::string, TeamResult>& r) {
  uint64_t total = 0;
  for (const auto& [t, v] : r) total += v.completion_tokens;
  return total;
}

int p95(std::vector<int> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * 95 / 100)];
}

class ClosedLoopFairness : public ::testing::Test {
 protected:
  void SetUp() override {
    LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
    m_ = load_model(::llmd::test::shared_file(kStoriesRel));
    ASSERT_TRUE(m_);
  }
  std::unique_ptr<LoadedModel> m_;
};

constexpr int kSteps = 2400;
constexpr int kWarmup = 300;

// Share preemptions per 1,000 delivered tokens stay low: the rules have
// hysteresis and never preempt a team for one with more service.
// Under KV pressure each admission of the waiting team may cost the other a
// sequence, so the bound there is looser.
void expect_few_preemptions(const ClosedLoop& loop, const std::map<std::string, TeamResult>& r,
                            double per_k_bound = 12.0) {
  const double per_k = 1000.0 * static_cast<double>(loop.stats().share_preemptions) /
                       static_cast<double>(std::max<uint64_t>(1, total_tokens(r)));
  EXPECT_LE(per_k, per_k_bound) << loop.stats().share_preemptions << " share preemptions";
}

TEST_F(ClosedLoopFairness, WeightsOneToThreeHoldWhenTheHeavyTeamHasExactlyMaxSequencesClients) {
  ClosedLoop loop(*m_, {{"a", 1.0, 32}, {"b", 3.0, 16}});
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  EXPECT_NEAR(share(r, "b"), 0.75, 0.05) << "a " << r.at("a").completion_tokens << ", b " << r.at("b").completion_tokens;
  expect_few_preemptions(loop, r);
}

TEST_F(ClosedLoopFairness, WithoutSharePreemptionTheSameLoadMissesTheWeights) {
  // The reason for the rule: the same clients without it (admission order alone).
  SchedulerConfig cfg = ClosedLoop::base_config();
  cfg.share_preemption.enabled = false;
  ClosedLoop loop(*m_, {{"a", 1.0, 32}, {"b", 3.0, 16}}, cfg);
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  EXPECT_LT(share(r, "b"), 0.65);
  EXPECT_EQ(loop.stats().share_preemptions, 0u);
}

TEST_F(ClosedLoopFairness, WeightsOneOneTwo) {
  ClosedLoop loop(*m_, {{"a", 1.0, 16}, {"b", 1.0, 16}, {"c", 2.0, 16}});
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  EXPECT_NEAR(share(r, "a"), 0.25, 0.05);
  EXPECT_NEAR(share(r, "b"), 0.25, 0.05);
  EXPECT_NEAR(share(r, "c"), 0.50, 0.05);
  expect_few_preemptions(loop, r);
}

TEST_F(ClosedLoopFairness, MixedLengthsOneToThree) {
  ClosedLoop loop(*m_, {{"a", 1.0, 32, Priority::interactive, 0, 0}, {"b", 3.0, 16, Priority::interactive, 0, 0}});
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  EXPECT_NEAR(share(r, "b"), 0.75, 0.05);
  expect_few_preemptions(loop, r);
}

TEST_F(ClosedLoopFairness, EqualWeightsEqualLengths) {
  ClosedLoop loop(*m_, {{"a", 1.0, 32}, {"b", 1.0, 16}});
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  EXPECT_NEAR(share(r, "b"), 0.50, 0.05);
  expect_few_preemptions(loop, r);
}

TEST_F(ClosedLoopFairness, WeightsHoldWhenKvBlocksAreWhatIsShort) {
  // Slots to spare, but the pool holds about eight of these sequences.
  SchedulerConfig cfg = ClosedLoop::base_config();
  cfg.max_seqs = 64;
  cfg.kv_blocks = 8 * ((96 + 64) / 16 + 1);
  ClosedLoop loop(*m_, {{"a", 1.0, 32, Priority::interactive, 96, 64}, {"b", 3.0, 16, Priority::interactive, 96, 64}},
                  cfg);
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  EXPECT_NEAR(share(r, "b"), 0.75, 0.05);
  expect_few_preemptions(loop, r, 40.0);
}

TEST_F(ClosedLoopFairness, ALightTeamIsNotHeldBackByAFlood) {
  const ClientGroup light{"light", 1.0, 1, Priority::interactive, 8, 16};
  ClosedLoop solo(*m_, {light});
  const int solo_p95 = p95(solo.run(600, 50).at("light").ttft_steps);
  ClosedLoop loop(*m_, {{"flood", 1.0, 64}, light});
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  const auto& ttft = r.at("light").ttft_steps;
  ASSERT_GT(ttft.size(), 20u);
  EXPECT_LE(p95(ttft), 2 * solo_p95) << "solo p95 " << solo_p95 << " steps";
}

TEST_F(ClosedLoopFairness, BatchWorkYieldsToInteractiveWithinAStep) {
  const ClientGroup user{"user", 1.0, 1, Priority::interactive, 8, 16};
  ClosedLoop loop(*m_, {{"nightly", 1.0, 64, Priority::batch}, user});
  const auto r = loop.run(kSteps, kWarmup);
  print_shares(loop, r);
  const auto& ttft = r.at("user").ttft_steps;
  ASSERT_GT(ttft.size(), 20u);
  // Its first token comes from the step that admits it (its prompt fits one
  // step's budget): never more than one step after it was sent.
  EXPECT_LE(*std::max_element(ttft.begin(), ttft.end()), 2);
  // And batch work still ran in the gaps.
  EXPECT_GT(r.at("nightly").completion_tokens, r.at("user").completion_tokens);
}

}  // namespace
}  // namespace llmd::scheduler::test
