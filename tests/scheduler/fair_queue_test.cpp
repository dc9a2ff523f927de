#include "scheduler/fair_queue.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace llmd::scheduler {
namespace {

// A run of admissions where every admitted request costs `cost` tokens at
// once and finishes immediately; returns admissions per team.
std::map<std::string, int> admit_many(FairQueue& q, int rounds, const std::map<std::string, int>& cost) {
  std::map<std::string, int> got;
  uint64_t next = 1000;
  for (int i = 0; i < rounds; ++i) {
    const std::string* team = q.next_team();
    if (!team) break;
    const std::string t = *team;
    q.pop_admitted(t);
    q.charge(t, cost.at(t), 0);
    q.push_back(t, 0, next++);  // the team stays backlogged
    q.on_finished(t);
    ++got[t];
  }
  return got;
}

TEST(FairQueue, EqualWeightsShareTokensNotRequests) {
  FairQueue q;
  for (int i = 0; i < 16; ++i) q.push_back("a", 1.0, static_cast<uint64_t>(i));
  for (int i = 0; i < 2; ++i) q.push_back("b", 1.0, static_cast<uint64_t>(100 + i));
  // b's requests cost twice as much: it gets half as many admissions.
  auto got = admit_many(q, 300, {{"a", 10}, {"b", 20}});
  EXPECT_NEAR(got["a"], 200, 2);
  EXPECT_NEAR(got["b"], 100, 2);
  EXPECT_NEAR(q.service("a"), q.service("b"), 20.0);
}

TEST(FairQueue, WeightsScaleTheShare) {
  FairQueue q;
  q.push_back("a", 3.0, 1);
  q.push_back("b", 1.0, 2);
  auto got = admit_many(q, 400, {{"a", 10}, {"b", 10}});
  EXPECT_NEAR(got["a"], 300, 2);
  EXPECT_NEAR(got["b"], 100, 2);
}

TEST(FairQueue, PromptAndCompletionWeights) {
  FairQueue q(FairShareWeights{1.0, 4.0});
  q.push_back("a", 2.0, 1);
  q.pop_admitted("a");
  q.charge("a", 10, 5);
  EXPECT_DOUBLE_EQ(q.service("a"), (10 * 1.0 + 5 * 4.0) / 2.0);
  auto c = q.counters();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].prompt_tokens, 10u);
  EXPECT_EQ(c[0].completion_tokens, 5u);
  EXPECT_EQ(c[0].running, 1);
}

TEST(FairQueue, ReturningTeamStartsAtTheCurrentMinimum) {
  FairQueue q;
  q.push_back("a", 1.0, 1);
  q.push_back("b", 1.0, 2);
  admit_many(q, 100, {{"a", 10}, {"b", 10}});
  const double a_before = q.service("a");
  EXPECT_GT(a_before, 400.0);
  // A newcomer is lifted to the active minimum: no burst of catch-up.
  q.push_back("c", 1.0, 3);
  EXPECT_GE(q.service("c"), std::min(q.service("a"), q.service("b")));
  auto got = admit_many(q, 90, {{"a", 10}, {"b", 10}, {"c", 10}});
  EXPECT_NEAR(got["c"], 30, 2);

  // A team that goes idle and comes back banks no credit either.
  FairQueue r;
  r.push_back("a", 1.0, 1);
  r.push_back("b", 1.0, 2);
  r.pop_admitted("b");  // b runs one request, then has nothing
  r.charge("b", 10, 0);
  r.on_finished("b");
  admit_many(r, 50, {{"a", 10}});  // a alone for a long time
  r.push_back("b", 1.0, 3);
  EXPECT_GE(r.service("b"), r.service("a") - 10.0);
  auto got2 = admit_many(r, 20, {{"a", 10}, {"b", 10}});
  EXPECT_NEAR(got2["b"], 10, 1);
}

TEST(FairQueue, ClockSurvivesAllTeamsGoingIdle) {
  FairQueue q;
  q.push_back("a", 1.0, 1);
  q.pop_admitted("a");
  q.charge("a", 1000, 0);
  q.on_finished("a");  // nobody active now
  q.push_back("b", 1.0, 2);  // b arrives after a long solo run of a
  q.push_back("a", 1.0, 3);
  EXPECT_GE(q.service("b"), 1000.0);
  EXPECT_EQ(*q.next_team(), "b");  // tie at 1000: b became active first
}

TEST(FairQueue, PreemptedGoesBackToTheFrontAndRemoveWorks) {
  FairQueue q;
  q.push_back("a", 1.0, 1);
  q.push_back("a", 1.0, 2);
  EXPECT_EQ(q.pop_admitted("a"), 1u);
  q.on_preempted("a", 1);
  EXPECT_EQ(q.front("a"), 1u);
  EXPECT_EQ(q.waiting("a"), 2);
  EXPECT_TRUE(q.remove("a", 2));
  EXPECT_FALSE(q.remove("a", 2));
  EXPECT_FALSE(q.remove("zz", 2));
  EXPECT_EQ(q.waiting(), 1);
  EXPECT_EQ(q.counters()[0].preemptions, 1u);
  EXPECT_EQ(q.pop_admitted("a"), 1u);
  EXPECT_EQ(q.next_team(), nullptr);
}

}  // namespace
}  // namespace llmd::scheduler
