#include "engine/cpu/thread_pool.hpp"

#include <sched.h>

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLMD_CPU_RELAX() _mm_pause()
#else
#define LLMD_CPU_RELAX() std::this_thread::yield()
#endif

namespace llmd::engine::cpu {
namespace {

// How long an idle worker spins before sleeping.
constexpr auto kSpin = std::chrono::microseconds(200);

}  // namespace

int ThreadPool::available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

ThreadPool::ThreadPool(int n_threads) {
  n_threads_ = n_threads > 0 ? n_threads : available_cores();
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(int thread) {
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) break;
    fn_(ctx_, task, thread);
  }
}

void ThreadPool::run_impl(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int64_t i = 0; i < n_tasks; ++i) fn(ctx, i, 0);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  // Sequentially consistent: a worker that registers as a sleeper either sees
  // the new generation in wait() or is seen here and woken.
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) generation_.notify_all();
  work(0);
  // Wait for the workers to finish their last task.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 20000) {
      LLMD_CPU_RELAX();
    } else {
      std::this_thread::yield();  // a worker was descheduled: give it the core
    }
  }
}

void ThreadPool::worker_loop(int id) {
  // Generation 0 is the pool's start; a job may already be posted before this
  // thread first runs, so do not read the current value here.
  uint32_t seen = 0;
  for (;;) {
    // Spin for a while, then sleep until the generation changes.
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    uint32_t gen = generation_.load(std::memory_order_acquire);
    int spins = 0;
    while (gen == seen) {
      LLMD_CPU_RELAX();
      if (++spins % 64 == 0 && std::chrono::steady_clock::now() > deadline) {
        sleepers_.fetch_add(1);
        generation_.wait(seen);
        sleepers_.fetch_sub(1);
      }
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    work(id);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace llmd::engine::cpu
