// ThreadPool: every task runs exactly once per job, thread ids are in range,
// and many short jobs in a row (as a decode step issues) complete, also with
// more threads than cores.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "engine/cpu/thread_pool.hpp"

namespace llmd::engine::cpu {
namespace {

TEST(ThreadPool, EveryTaskRunsOnceOnValidThreads) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 7, 64, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> bad_thread{0};
      pool.run(n, [&](int64_t task, int thread) {
        hits[static_cast<size_t>(task)].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "task " << i;
      EXPECT_EQ(bad_thread.load(), 0);
    }
  }
}

TEST(ThreadPool, ManyShortJobsInARow) {
  ThreadPool pool(4);  // more threads than this machine may have cores
  std::atomic<int64_t> sum{0};
  int64_t want = 0;
  for (int job = 0; job < 20000; ++job) {
    const int64_t n = 1 + job % 5;
    pool.run(n, [&](int64_t task, int) { sum.fetch_add(task + 1); });
    want += n * (n + 1) / 2;
  }
  EXPECT_EQ(sum.load(), want);
}

TEST(ThreadPool, ZeroTasksAndDefaultSize) {
  ThreadPool pool(0);
  EXPECT_GE(pool.size(), 1);
  EXPECT_EQ(pool.size(), ThreadPool::available_cores());
  int calls = 0;
  pool.run(0, [&](int64_t, int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, IdleWorkersSleepAndWakeUp) {
  ThreadPool pool(2);
  std::atomic<int> n{0};
  pool.run(4, [&](int64_t, int) { n.fetch_add(1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // workers go to sleep
  pool.run(4, [&](int64_t, int) { n.fetch_add(1); });
  EXPECT_EQ(n.load(), 8);
}

}  // namespace
}  // namespace llmd::engine::cpu
