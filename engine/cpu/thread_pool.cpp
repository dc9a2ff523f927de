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

constexpr uint64_t pack(uint64_t tag, uint64_t n, uint64_t next) { return (tag << 48) | (n << 24) | next; }
constexpr uint64_t count_of(uint64_t s) { return (s >> 24) & 0xffffff; }
constexpr uint64_t next_of(uint64_t s) { return s & 0xffffff; }

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
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(int thread) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (next_of(s) >= count_of(s)) return;
    // A successful claim names a task of the job that is live right now; its
    // fn_ / ctx_ stay valid until that task (among others) has completed.
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn_(ctx_, static_cast<int64_t>(next_of(s)), thread);
    completed_.fetch_add(1, std::memory_order_acq_rel);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::run_impl(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_threads_ == 1 || n_tasks == 1 || n_tasks > kMaxTasks) {
    for (int64_t i = 0; i < n_tasks; ++i) fn(ctx, i, 0);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  completed_.store(0, std::memory_order_relaxed);
  tag_ = (tag_ + 1) & 0xffff;
  state_.store(pack(tag_, static_cast<uint64_t>(n_tasks), 0), std::memory_order_release);
  // Sequentially consistent: a worker that registers as a sleeper either sees
  // the new generation in wait() or is seen here and woken.
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) generation_.notify_all();
  work(0);
  for (int spins = 0; completed_.load(std::memory_order_acquire) != n_tasks; ++spins) {
    if (spins < 20000) {
      LLMD_CPU_RELAX();
    } else {
      std::this_thread::yield();  // a worker holding a task was descheduled
    }
  }
}

void ThreadPool::worker_loop(int id) {
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
    if (stop_.load()) return;
    work(id);
  }
}

}  // namespace llmd::engine::cpu
