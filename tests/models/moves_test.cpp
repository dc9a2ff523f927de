// Moves and unloads with work in flight: every stream completes with exactly
// the tokens of an uninterrupted run, and requests that arrive meanwhile are
// served.
#include <thread>

#include "tests/models/manager_harness.hpp"

namespace llmd::models::test {
namespace {

using namespace std::chrono_literals;

// Eight different prompts (the reference prompt with a varying last token).
std::vector<std::vector<int32_t>> prompts() {
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; i < 8; ++i) {
    auto p = reference_prompt();
    p.push_back(300 + i * 7);
    out.push_back(std::move(p));
  }
  return out;
}

constexpr int kTokens = 160;

// The uninterrupted answers, one request at a time.
std::vector<std::vector<int32_t>> solo_answers(ModelManager& m, const std::string& id) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& p : prompts()) out.push_back(generate(m, id, p, kTokens));
  return out;
}

size_t tokens_of(const std::shared_ptr<RunRecord>& r) {
  std::lock_guard lk(r->mu);
  return r->ids.size();
}

TEST(ModelMoves, MoveBetweenCpuPartitionsWhileEightStreamsRun) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  ModelManager m(cpu_devices(2, 1ull << 30), options_for(dir));
  ASSERT_TRUE(m.start({}));
  auto spec = stories_spec("a", dir.file(0));
  spec.device = "cpu:0";
  ASSERT_TRUE(add_ready(m, spec));
  const auto solo = solo_answers(m, "a");

  std::vector<std::shared_ptr<RunRecord>> runs;
  std::vector<Lease> leases;
  for (const auto& p : prompts()) {
    auto lease = acquire_sync(m, "a");
    ASSERT_TRUE(lease);
    runs.push_back(submit_greedy(*lease, p, kTokens, 300us));  // slowed so the move lands mid-stream
    leases.push_back(std::move(*lease));
  }
  // Once every stream has produced tokens, move.
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    bool all = true;
    for (const auto& r : runs) all = all && tokens_of(r) >= 4;
    if (all) break;
    std::this_thread::sleep_for(1ms);
  }
  auto moved = m.move("a", "cpu:1");
  ASSERT_TRUE(moved) << moved.error().message;
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.device == "cpu:1"; }));
  size_t unfinished = 0;
  for (const auto& r : runs) unfinished += tokens_of(r) < static_cast<size_t>(kTokens) ? 1 : 0;
  EXPECT_GT(unfinished, 0u) << "the move landed after every stream had ended; the test proves nothing";
  EXPECT_GT(m.stats().at(0).scheduler.preemptions, 0u) << "the switch preempted no running sequence";
  for (size_t i = 0; i < runs.size(); ++i) {
    ASSERT_TRUE(wait_run(runs[i]));
    std::lock_guard lk(runs[i]->mu);
    EXPECT_EQ(runs[i]->error, "");
    EXPECT_EQ(runs[i]->ids, solo[i]) << "stream " << i;
  }
  leases.clear();
  // The memory followed the model.
  for (const auto& d : m.devices()) {
    if (d.device.id == "cpu:0") {
      EXPECT_EQ(d.device.reserved_total(), 0u);
    } else {
      EXPECT_GT(d.device.reserved_total(), 0u);
    }
  }
  // And it keeps serving there.
  EXPECT_EQ(generate(m, "a", prompts()[0], kTokens), solo[0]);
  m.stop();
}

TEST(ModelMoves, UnloadWithWorkInFlightLetsItFinishThenReloadsOnDemand) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  ModelManager m(cpu_devices(1, 1ull << 30), options_for(dir));
  ASSERT_TRUE(m.start({}));
  ASSERT_TRUE(add_ready(m, stories_spec("a", dir.file(0))));
  const auto solo = solo_answers(m, "a");

  std::vector<std::shared_ptr<RunRecord>> runs;
  {
    std::vector<Lease> leases;
    for (const auto& p : prompts()) {
      auto lease = acquire_sync(m, "a");
      ASSERT_TRUE(lease);
      runs.push_back(submit_greedy(*lease, p, kTokens, 200us));
      leases.push_back(std::move(*lease));
    }
    auto unloading = m.unload("a");
    ASSERT_TRUE(unloading);
    EXPECT_EQ(unloading->state, ModelState::unloading);
    // The runs hold their leases until they are done, as requests do.
    for (auto& r : runs) ASSERT_TRUE(wait_run(r));
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    std::lock_guard lk(runs[i]->mu);
    EXPECT_EQ(runs[i]->ids, solo[i]) << "stream " << i;
  }
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.state == ModelState::unloaded; }));
  EXPECT_EQ(m.devices()[0].device.reserved_total(), 0u);
  // A request brings it back.
  EXPECT_EQ(generate(m, "a", prompts()[1], kTokens), solo[1]);
  EXPECT_EQ(m.info("a")->state, ModelState::ready);
  m.stop();
}

TEST(ModelMoves, ParkingIsForGpuModels) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  ModelManager m(cpu_devices(1, 1ull << 30), options_for(dir));
  ASSERT_TRUE(m.start({}));
  ASSERT_TRUE(add_ready(m, stories_spec("a", dir.file(0))));
  auto parked = m.move("a", "host");
  ASSERT_FALSE(parked);
  EXPECT_EQ(parked.error().code, ErrorCode::model_state_conflict);
  auto bad = m.move("a", "cuda:3");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::device_unknown);
  EXPECT_EQ(m.info("a")->state, ModelState::ready);
  m.stop();
}

}  // namespace
}  // namespace llmd::models::test
