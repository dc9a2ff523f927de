// The manager's private records, shared by its implementation files only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>

#include "models/model_manager.hpp"

namespace llmd::models {

using SteadyClock = std::chrono::steady_clock;

// One catalog entry and, while resident, what serves it. Guarded by the
// manager's mutex, except `backend` and `instance` while the loader works
// on the slot outside the lock (op_running marks that).
struct ModelManager::Slot {
  ModelSpec spec;
  ModelState state = ModelState::unloaded;
  std::string device;   // current or target device ("cpu:0+cpu:1" for a split)
  std::vector<StagePlan> stages;  // where each part runs (ready)
  std::string error;
  uint64_t estimate = 0;
  uint64_t actual = 0;
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> bytes_total{0};
  std::shared_ptr<ModelInstance> instance;    // ready, parked, unloading
  std::unique_ptr<engine::Backend> backend;   // ready, unloading
  std::shared_ptr<LeaseCounter> leases = std::make_shared<LeaseCounter>();
  int64_t loaded_at = 0;     // Unix seconds
  uint64_t loads = 0;        // loads and restores that succeeded
  double load_seconds = 0;   // their total time, from the file's opening to serving
  uint64_t evictions = 0;    // unloaded or parked to make room for another model
  uint64_t moves = 0;        // moves to another device that succeeded
  int64_t last_used_at = 0;  // Unix seconds
  SteadyClock::time_point last_used{};  // LRU order
  bool queued = false;       // a load or move of it is queued, blocked or running
  // Draining: new requests wait; once its leases end (or the deadline
  // passes, for an unload) the loader unloads or parks it.
  bool draining = false;
  bool drain_to_park = false;
  bool drain_for_room = false;  // drained to make room for another load (no deadline)
  SteadyClock::time_point drain_deadline{};
  bool removing = false;     // forget it once unloaded
  bool reload = false;       // load it again (its spec changed) once unloaded

  bool idle() const { return leases->count.load(std::memory_order_acquire) == 0; }
  // Last use: the later of the last acquire and the last lease's end.
  SteadyClock::time_point used_at() const {
    const SteadyClock::time_point released{SteadyClock::duration(leases->released_ns.load(std::memory_order_relaxed))};
    return std::max(last_used, released);
  }
};

struct ModelManager::Op {
  enum class Kind : uint8_t { load, move } kind = Kind::load;
  std::string id;
  std::string device;  // requested ("" = the spec's)
};

struct ModelManager::Waiter {
  std::string id;
  AcquireCallback done;
  SteadyClock::time_point deadline;
  std::shared_ptr<std::function<void()>> tick;  // may be null
  SteadyClock::time_point next_tick;
};

struct ModelManager::Settle {
  std::string id;
  std::function<void(Result<ModelInfo>)> done;
  SteadyClock::time_point deadline;
};

int64_t unix_now();

}  // namespace llmd::models
