// One fair share per device: model loops bound to one DeviceArbiter take
// turns by their teams' device-time service.
#include "scheduler/device_arbiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

double seconds_of(const DeviceArbiterStats& s, const std::string& team) {
  for (const auto& t : s.teams) {
    if (t.team == team) return t.device_seconds;
  }
  return 0.0;
}

struct BusyLoop {
  std::string team;
  double weight;
  std::chrono::microseconds step;     // spent holding the device
  std::chrono::microseconds between;  // sampling and planning between steps
};

// Runs loops that always have work, each serving one team, for 1.5 s.
DeviceArbiterStats run_busy_loops(DeviceArbiter& arbiter, const std::vector<BusyLoop>& loops) {
  std::atomic<bool> stop{false};
  auto loop = [&](const BusyLoop& l) {
    const std::vector<TeamStepShare> shares{{l.team, l.weight, 1}};
    const int me = arbiter.join();
    while (!stop.load()) {
      arbiter.acquire(me, shares);
      const auto t0 = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - t0 < l.step) {
        if (l.step > std::chrono::microseconds(500)) std::this_thread::sleep_for(l.step / 4);
      }
      arbiter.release(me, shares, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (l.between.count() > 0) std::this_thread::sleep_for(l.between);
    }
    arbiter.leave(me);
  };
  std::vector<std::thread> threads;
  for (const BusyLoop& l : loops) threads.emplace_back(loop, std::cref(l));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : threads) t.join();
  return arbiter.stats();
}

// The device time splits by the weights whatever the step lengths.
TEST(DeviceArbiter, BusyLoopsSplitDeviceTimeByWeight) {
  DeviceArbiter arbiter("cpu");
  // The light team's steps are three times longer: weights, not step counts, decide.
  const DeviceArbiterStats s = run_busy_loops(arbiter, {{"a", 1.0, std::chrono::microseconds(3000), std::chrono::microseconds(200)},
                                                        {"b", 3.0, std::chrono::microseconds(1000), std::chrono::microseconds(200)}});
  const double sa = seconds_of(s, "a"), sb = seconds_of(s, "b");
  ASSERT_GT(sa + sb, 0.5);
  EXPECT_NEAR(sb / (sa + sb), 0.75, 0.05) << "a " << sa << " s, b " << sb << " s";
  EXPECT_GT(s.contended, 0u);
}

// Steps much shorter than the quantum: each loop keeps the device for several
// steps per turn (few hand-overs), and the shares still follow the weights.
TEST(DeviceArbiter, ShortStepsTakeTurnsOfAQuantumAndKeepTheWeights) {
  DeviceArbiter arbiter("cpu", std::chrono::milliseconds(500), std::chrono::microseconds(3000),
                        std::chrono::microseconds(2000));
  const DeviceArbiterStats s = run_busy_loops(arbiter, {{"a", 1.0, std::chrono::microseconds(100), {}},
                                                        {"b", 3.0, std::chrono::microseconds(100), {}}});
  const double sa = seconds_of(s, "a"), sb = seconds_of(s, "b");
  ASSERT_GT(sa + sb, 0.3);
  EXPECT_NEAR(sb / (sa + sb), 0.75, 0.05) << "a " << sa << " s, b " << sb << " s";
  EXPECT_GT(s.handovers, 10u);                     // they do take turns
  EXPECT_LT(s.handovers * 5, s.turns) << s.turns;  // of several steps each
}

// Within its turn the holder's steps are not overtaken; when the turn is over
// the member with the lower bid goes next. Without a quantum every step is a
// turn and the lower bid goes at once.
bool other_goes_first(std::chrono::microseconds quantum, std::chrono::microseconds* waited) {
  DeviceArbiter arbiter("cpu", std::chrono::milliseconds(500), std::chrono::microseconds(400000), quantum);
  const std::vector<TeamStepShare> a{{"a", 1.0, 1}}, b{{"b", 1.0, 1}};
  const int x = arbiter.join(), y = arbiter.join();
  const auto start = std::chrono::steady_clock::now();
  arbiter.acquire(x, a);
  std::atomic<bool> y_ran{false};
  std::thread other([&] {
    arbiter.acquire(y, b);  // b's service is the lower once a's step is charged
    *waited = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    y_ran = true;
    arbiter.release(y, b, 0.0001);
    arbiter.idle(y);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // y waits for x's step
  arbiter.release(x, a, 0.001);
  arbiter.acquire(x, a);  // x comes back at once
  const bool first = y_ran.load();
  arbiter.release(x, a, 0.001);
  other.join();
  EXPECT_GE(arbiter.stats().handovers, 1u);
  return first;
}

TEST(DeviceArbiter, TheHolderKeepsItsTurnUntilTheQuantumIsOver) {
  std::chrono::microseconds waited{0};
  EXPECT_FALSE(other_goes_first(std::chrono::microseconds(200000), &waited));
  EXPECT_GE(waited, std::chrono::microseconds(200000));
  EXPECT_LT(waited, std::chrono::microseconds(2000000));
  EXPECT_TRUE(other_goes_first(std::chrono::microseconds(0), &waited));
}

TEST(DeviceArbiter, AStepIsChargedToItsTeamsByTokens) {
  DeviceArbiter arbiter("cpu");
  const std::vector<TeamStepShare> shares{{"a", 1.0, 30}, {"b", 2.0, 10}};
  const int me = arbiter.join();
  arbiter.acquire(me, shares);
  arbiter.release(me, shares, 0.4);
  const DeviceArbiterStats s = arbiter.stats();
  EXPECT_DOUBLE_EQ(seconds_of(s, "a"), 0.3);
  EXPECT_DOUBLE_EQ(seconds_of(s, "b"), 0.1);
  EXPECT_DOUBLE_EQ(arbiter.service("a"), 0.3);
  EXPECT_DOUBLE_EQ(arbiter.service("b"), 0.05);
  EXPECT_EQ(s.turns, 1u);
}

TEST(DeviceArbiter, AReturningTeamBanksNoCredit) {
  DeviceArbiter arbiter("cpu", std::chrono::milliseconds(20));
  const std::vector<TeamStepShare> a{{"a", 1.0, 1}};
  const int x = arbiter.join(), y = arbiter.join();
  arbiter.acquire(x, a);
  arbiter.release(x, a, 5.0);
  // "b" arrives while "a" is active: it starts at a's service, not at 0.
  const std::vector<TeamStepShare> b{{"b", 1.0, 1}};
  arbiter.acquire(y, b);
  arbiter.release(y, b, 1.0);
  EXPECT_DOUBLE_EQ(arbiter.service("b"), 6.0);
}

// Closed-loop clients of two teams on two models (two loads of one GGUF)
// sharing one device: each team's share of device time follows its weight.
class ArbitratedModels : public ::testing::Test {
 protected:
  void SetUp() override {
    LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
    x_ = load_model(::llmd::test::shared_file(kStoriesRel));
    y_ = load_model(::llmd::test::shared_file(kStoriesRel));
    ASSERT_TRUE(x_ && y_);
  }

  // Runs `clients` closed-loop clients of team a on model x and of team b
  // on model y for `duration`; returns b's share of device time.
  double run(double weight_a, double weight_b, int clients, std::chrono::milliseconds duration) {
    auto arbiter = std::make_shared<DeviceArbiter>("cpu");
    SchedulerConfig cfg;
    cfg.max_seqs = 8;
    cfg.max_batched_tokens = 128;
    auto sx = make_scheduler(*x_, cfg);
    auto sy = make_scheduler(*y_, cfg);
    sx->replace_backend(x_->backend.get(), nullptr, arbiter);
    sy->replace_backend(y_->backend.get(), nullptr, arbiter);
    sx->start();
    sy->start();
    std::atomic<bool> stop{false};
    std::atomic<int> outstanding{0};
    struct Resubmit {
      Scheduler* s;
      std::string team;
      double weight;
      std::atomic<bool>* stop;
      std::atomic<int>* outstanding;
      void send(uint32_t seed) const {
        std::mt19937 rng(seed);
        std::vector<int32_t> prompt(12);
        prompt[0] = 1;
        for (size_t i = 1; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(3 + rng() % 500);
        GenerationRequest r;
        r.prompt = std::move(prompt);
        r.sampling.temperature = 0.0f;
        r.max_tokens = 48;
        r.ignore_eos = true;
        r.team = team;
        r.team_weight = weight;
        Resubmit self = *this;
        r.on_event = [self, seed](StreamEvent&& ev) {
          if (!ev.done) return;
          if (self.stop->load()) {
            self.outstanding->fetch_sub(1);
          } else {
            self.send(seed + 7919);  // the next request as soon as the answer is in
          }
        };
        outstanding->fetch_add(1);
        if (!s->submit(std::move(r))) outstanding->fetch_sub(1);
      }
    };
    const Resubmit ca{sx.get(), "a", weight_a, &stop, &outstanding};
    const Resubmit cb{sy.get(), "b", weight_b, &stop, &outstanding};
    for (int i = 0; i < clients; ++i) {
      ca.send(static_cast<uint32_t>(i));
      cb.send(static_cast<uint32_t>(1000 + i));
    }
    std::this_thread::sleep_for(duration);
    const DeviceArbiterStats s = arbiter->stats();
    stop = true;
    sx->stop();
    sy->stop();
    const double sa = seconds_of(s, "a"), sb = seconds_of(s, "b");
    EXPECT_GT(s.contended, 0u);
    std::printf("  device seconds: a %.3f, b %.3f (turns %llu, contended %llu)\n", sa, sb,
                static_cast<unsigned long long>(s.turns), static_cast<unsigned long long>(s.contended));
    return sb / (sa + sb);
  }

  std::unique_ptr<LoadedModel> x_, y_;
};

TEST_F(ArbitratedModels, EqualWeightsOnTwoModelsShareTheDeviceEvenly) {
  EXPECT_NEAR(run(1.0, 1.0, 8, std::chrono::milliseconds(2000)), 0.5, 0.05);
}

TEST_F(ArbitratedModels, WeightsOneToThreeOnTwoModels) {
  EXPECT_NEAR(run(1.0, 3.0, 8, std::chrono::milliseconds(2000)), 0.75, 0.05);
}

}  // namespace
}  // namespace llmd::scheduler::test
