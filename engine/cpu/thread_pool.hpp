// A fixed pool of worker threads for data-parallel loops. The calling thread
// takes part as worker 0. Tasks are claimed dynamically, and a job is done
// when its tasks are, not when every worker has looked at it: a worker that
// the OS has descheduled (other load on the machine) never holds up a step,
// the others simply take its share. Callers make results independent of which
// thread runs which task.
//
// Workers spin briefly between jobs (a decode step runs hundreds of short
// parallel loops) and then sleep on a futex, so an idle pool costs no CPU.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace llmd::engine::cpu {

class ThreadPool {
 public:
  // n_threads <= 0: one per available core.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for task in [0, n_tasks); returns when all are done.
  // thread is in [0, size()). Not reentrant: fn must not call run().
  template <typename Fn>
  void run(int64_t n_tasks, Fn&& fn) {
    if (n_tasks <= 0) return;
    using F = std::remove_reference_t<Fn>;
    auto thunk = [](void* ctx, int64_t task, int thread) { (*static_cast<F*>(ctx))(task, thread); };
    run_impl(n_tasks, thunk, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Cores this process may run on.
  static int available_cores();

  // Most tasks one run() may have.
  static constexpr int64_t kMaxTasks = (int64_t{1} << 24) - 1;

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void run_impl(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker_loop(int id);
  // Claims and runs tasks of the published job until none is left.
  void work(int thread);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;

  // The current job: written before `state_` publishes it, unchanged until
  // all its tasks have completed.
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  // Packed claim state: job tag (16 bits) | task count (24) | next task (24).
  alignas(64) std::atomic<uint64_t> state_{0};
  alignas(64) std::atomic<int64_t> completed_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped per job; workers wait on it
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  uint32_t tag_ = 0;
};

}  // namespace llmd::engine::cpu
