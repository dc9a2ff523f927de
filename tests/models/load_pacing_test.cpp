// [model_manager] load_bytes_per_s: a load keeps to the configured read rate
// (its progress is visible while it runs), a restore is not paced, a stop does
// not wait for a paced load, and a paced model serves the same answer.
#include <chrono>
#include <thread>

#include "models/load_pacer.hpp"
#include "tests/models/manager_harness.hpp"

namespace llmd::models::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(LoadPacer, HoldsTheCallerToTheRate) {
  const LoadPacer pacer(1'000'000);  // 1 MB/s
  const auto t0 = Clock::now();
  pacer.pace(250'000, nullptr);  // due 250 ms after construction
  EXPECT_GE(Clock::now() - t0, 240ms);
  EXPECT_EQ(pacer.due(500'000) - pacer.due(0), std::chrono::duration_cast<Clock::duration>(500ms));
}

TEST(LoadPacer, NoRateNeverWaits) {
  const LoadPacer pacer(0);
  const auto t0 = Clock::now();
  pacer.pace(uint64_t{1} << 40, nullptr);
  EXPECT_LT(Clock::now() - t0, 50ms);
}

TEST(LoadPacer, AStopEndsTheWaitWithinASlice) {
  const LoadPacer pacer(1000);  // 1 kB/s: 1 MB is due in 1000 s
  std::atomic<bool> stop{false};
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    stop = true;
  });
  const auto t0 = Clock::now();
  pacer.pace(1'000'000, [&] { return stop.load(); });
  t.join();
  EXPECT_LT(Clock::now() - t0, 100ms + 10 * LoadPacer::kSlice);
}

TEST(ModelManager, APacedLoadShowsItsProgressAndServesTheSameAnswer) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  ManagerOptions o = options_for(dir);
  const uint64_t file_bytes = std::filesystem::file_size(dir.file(0));
  o.load_bytes_per_s = file_bytes / 2;  // about two seconds for the weights
  ModelManager m(cpu_devices(1, 1ull << 30), std::move(o));
  ASSERT_TRUE(m.start({}));
  const auto t0 = Clock::now();
  ASSERT_TRUE(m.add(stories_spec("a", dir.file(0))));
  // Part-way: loading, some bytes done, not all.
  EXPECT_TRUE(wait_info(m, "a", [](const ModelInfo& i) {
    return i.state == ModelState::loading && i.bytes_done > 0 && i.bytes_done < i.bytes_total;
  }));
  ASSERT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.state == ModelState::ready; }));
  const auto took = Clock::now() - t0;
  auto info = m.info("a");
  ASSERT_TRUE(info);
  // The weights (a little less than the file) took at least their share of
  // the two seconds.
  const double weight_share = static_cast<double>(info->bytes_total) / static_cast<double>(file_bytes);
  EXPECT_GE(std::chrono::duration<double>(took).count(), 2.0 * weight_share * 0.9);
  EXPECT_EQ(info->bytes_done, info->bytes_total);
  EXPECT_EQ(generate(m, "a", reference_prompt(), 64), reference_ids());
  m.stop();
}

TEST(ModelManager, StopDoesNotWaitForAPacedLoad) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  ModelDir dir(1);
  ManagerOptions o = options_for(dir);
  o.load_bytes_per_s = 10'000;  // about two minutes for the weights
  ModelManager m(cpu_devices(1, 1ull << 30), std::move(o));
  ASSERT_TRUE(m.start({}));
  ASSERT_TRUE(m.add(stories_spec("a", dir.file(0))));
  EXPECT_TRUE(wait_info(m, "a", [](const ModelInfo& i) { return i.state == ModelState::loading && i.bytes_done > 0; }));
  const auto t0 = Clock::now();
  m.stop();
  EXPECT_LT(Clock::now() - t0, 10s);
}

}  // namespace
}  // namespace llmd::models::test
