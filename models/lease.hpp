// A request's hold on the model instance it runs on. While any lease on a
// model is held the model is busy: it is not evicted, and an unload waits
// (up to the drain timeout) for the leases to end. A lease is movable, not
// copyable; its end (destruction, or reset()) may happen on any thread,
// including an engine thread, and never blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "models/model_instance.hpp"

namespace llmd::models {

// Counts the leases of one model; `on_idle` runs (on the releasing thread)
// each time the count drops to zero. It must not block. `released_ns` is the
// steady-clock time of the last lease's end: the model was in use until then.
struct LeaseCounter {
  std::atomic<int> count{0};
  std::atomic<int64_t> released_ns{0};
  std::function<void()> on_idle;
};

class Lease {
 public:
  Lease() = default;
  Lease(std::shared_ptr<ModelInstance> instance, std::shared_ptr<LeaseCounter> counter)
      : instance_(std::move(instance)), counter_(std::move(counter)) {
    counter_->count.fetch_add(1, std::memory_order_acq_rel);
  }
  Lease(Lease&& o) noexcept : instance_(std::move(o.instance_)), counter_(std::move(o.counter_)) {}
  Lease& operator=(Lease&& o) noexcept {
    if (this != &o) {
      reset();
      instance_ = std::move(o.instance_);
      counter_ = std::move(o.counter_);
    }
    return *this;
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { reset(); }

  explicit operator bool() const { return instance_ != nullptr; }
  const ModelInstance& operator*() const { return *instance_; }
  const ModelInstance* operator->() const { return instance_.get(); }
  const ModelInstance* get() const { return instance_.get(); }

  // Ends the hold now.
  void reset() {
    if (!counter_) return;
    auto counter = std::move(counter_);
    instance_.reset();
    counter->released_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    if (counter->count.fetch_sub(1, std::memory_order_acq_rel) == 1 && counter->on_idle) counter->on_idle();
  }

 private:
  std::shared_ptr<ModelInstance> instance_;
  std::shared_ptr<LeaseCounter> counter_;
};

}  // namespace llmd::models
