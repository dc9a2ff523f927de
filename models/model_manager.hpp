// The model manager: the catalog of models, the devices they run on, and
// every change of where a model is — loading, eviction, parking, moves,
// unloading — while requests keep being served.
//
// States of a model (ModelState):
//
//   unloaded --load--> loading --ok--> ready <--park/restore--> parked
//      ^                  |              |
//      |                  v              v (unload: requests finish first)
//      +------------- failed         unloading --> unloaded
//
// Threads. Admin calls (add, load, unload, move, remove) and lookups run on
// the caller's thread: they validate, check what can be checked at once
// (path confinement, device names, whether the model can ever fit) and queue
// the slow part for the one loader thread, which maps files, converts
// weights and frees memory. A timer thread ends waits that last longer than
// load_timeout. Nothing here ever blocks on a request or on the network.
//
// Serving. acquire() gives a request a Lease on a ready model. For a model
// that is not resident it queues the request and (load_on_demand) starts the
// load; the callback runs exactly once: at once on the caller's thread when
// the answer is known now, otherwise on the loader thread (the model became
// ready or failed) or the timer thread (timeout), never under a lock. Last
// use (the LRU order) is updated on every acquire.
//
// Memory. Before a load its memory on the target device is estimated and
// reserved at once. When a device lacks room, idle models there (no lease)
// are evicted in least-recently-used order, never a pinned one; a GPU model
// is parked in host RAM when the host budget allows. A model with work in
// flight is not evicted: the load waits until the models it needs to evict
// finish their requests (new requests for them wait meanwhile, so the load
// is not starved). A load that cannot fit even with every unpinned model
// gone fails at once with insufficient_device_memory and the numbers.
//
// Moves keep serving: the new backend is built on the target while the old
// one serves, and the scheduler switches at a step boundary; its running
// sequences resume there by recompute (tokens kept), so clients see a pause,
// never an error, a lost or a repeated token.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "models/device_table.hpp"
#include "models/lease.hpp"
#include "models/model_spec.hpp"
#include "models/model_store.hpp"

namespace llmd::models {

enum class ModelState : uint8_t { unloaded, loading, ready, parked, unloading, failed };

std::string_view to_string(ModelState s);

// One part of a placed model: where it runs, its layers [first, last), the
// memory reserved for it.
struct StageView {
  std::string device;
  int32_t first_layer = 0;
  int32_t last_layer = 0;
  uint64_t memory = 0;
};

// A snapshot of one model for the admin API.
struct ModelInfo {
  ModelSpec spec;
  ModelState state = ModelState::unloaded;
  std::string device;            // where it is, or is being loaded ("" when unloaded)
  uint64_t memory_estimate = 0;  // on `device`, before the load
  uint64_t memory_actual = 0;    // measured after the load (0 until then)
  uint64_t bytes_done = 0;       // load progress
  uint64_t bytes_total = 0;
  int32_t running = 0;           // sequences in its batch
  int32_t waiting = 0;           // requests queued in its scheduler or waiting for it to load
  int64_t loaded_at = 0;         // Unix seconds; 0 = never
  uint64_t loads = 0;            // successful loads and restores since start
  double load_seconds = 0;       // their total time
  uint64_t evictions = 0;        // times it was unloaded or parked to make room
  uint64_t moves = 0;            // successful moves between devices
  int64_t last_used_at = 0;      // Unix seconds; 0 = never
  int32_t max_context = 0;       // 0 until loaded
  std::string error;             // why it failed (state failed)
  std::vector<StageView> stages; // one per device it runs on (ready)
};

// The scheduler counters of a resident model.
struct ModelStats {
  std::string id;
  std::string device;
  scheduler::SchedulerStats scheduler;
};

// What apply_config_models() did, by model id.
struct ConfigModelChanges {
  std::vector<std::string> added;    // new: loading
  std::vector<std::string> removed;  // gone from the config: unloading (requests finish first), then forgotten
  std::vector<std::string> changed;  // served differently: unloaded (requests finish first), then loaded again
  std::vector<std::string> updated;  // only aliases, pinned or keep_alive_s: applied in place
};

// A resident model's engine loop, for the watchdog.
struct EngineProgress {
  std::string id;
  std::chrono::nanoseconds in_step{0};  // how long its current step has run; 0 between steps (idle)
};

struct DeviceView {
  Device device;
  std::vector<std::string> models;  // ids resident (ready, parked or loading) on it
};

struct ManagerOptions {
  std::vector<std::filesystem::path> model_dirs;
  bool load_on_demand = true;                       // a request for a model not resident loads it
  std::chrono::milliseconds load_timeout{300000};   // longest a request waits for a load
  std::chrono::milliseconds drain_timeout{30000};   // unload: how long running requests may finish
  std::chrono::milliseconds wait_tick{5000};         // how often a waiting acquire's tick runs
  uint64_t load_bytes_per_s = 0;                    // pace of loads from a file; 0 = as fast as they go
  std::function<void()> after_step;                 // every scheduler, after each step (engine thread)
  ModelStore* store = nullptr;                      // models added over the API; may be null
  // Makes the backends (default: engine::make_backend); tests wrap it.
  std::function<Result<std::unique_ptr<engine::Backend>>(const engine::Model&, const engine::BackendOptions&)>
      make_backend;
  // A model's backend failed for good (a sticky device error): the model is
  // marked failed and this runs once, on that model's engine thread, with its
  // id and the error. Must not block; the daemon stops so that it is restarted.
  std::function<void(const std::string& model, const std::string& error)> on_backend_failed;
};

class ModelManager {
 public:
  using AcquireCallback = std::function<void(Result<Lease>)>;
  using Ticket = uint64_t;

  ModelManager(DeviceTable devices, ManagerOptions options);
  ~ModelManager();  // stop()
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Registers the config's models and the stored ones (a stored id that the
  // config also has is skipped with a warning), starts the threads and
  // queues the loads of those whose desired state is loaded. Call once.
  Status start(std::vector<ModelSpec> config_models);
  // Waits until no load is queued or running (start-up readiness), up to
  // `timeout`. True when idle.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Ends every wait (shutting_down), stops every scheduler (requests still
  // running end), frees every backend and joins the threads. Idempotent.
  void stop();

  // --- Admin (any thread; may block briefly on the store) ---
  // Adds a model (source api). Errors: invalid_argument (a field, named in
  // the message), path_not_allowed / path_not_file, model_exists,
  // device_unknown, insufficient_device_memory (cannot fit even after
  // evicting every unpinned model), and the GGUF reader's for a bad file.
  Result<ModelInfo> add(ModelSpec spec);
  // Loads (or restores, or re-places) a model; device empty = its spec's.
  Result<ModelInfo> load(const std::string& id, const std::string& device = "");
  // Unloads: new requests wait (and reload it on demand), running ones
  // finish up to the drain timeout; desired state becomes unloaded.
  Result<ModelInfo> unload(const std::string& id);
  // Moves a ready model to `device` ("cpu", "cpu:N", "cuda:N", or "host" to
  // park it) without failing its requests.
  Result<ModelInfo> move(const std::string& id, const std::string& device);
  // Unloads and forgets an API model (model_from_config for config models).
  Status remove(const std::string& id);
  // Makes the config's models (source config) those of `specs`, as after a
  // restart: new ids are added and loaded, ids no longer listed are unloaded
  // and forgotten, changed ones are unloaded and loaded again with their new
  // spec (their requests finish first; new requests wait for the reload).
  // API models are left alone. All or nothing: nothing changes when an entry
  // cannot be applied now — model_exists (an id or alias that an API model,
  // or another model, holds), model_state_conflict (a model that is loading,
  // moving or being removed: apply again when that is done).
  Result<ConfigModelChanges> apply_config_models(std::vector<ModelSpec> specs);
  // Every resident model's engine loop (ready, parked or unloading).
  std::vector<EngineProgress> engine_progress() const;
  // Calls `done` once the model is ready (its info) or failed/unloaded (the
  // error); at once when it already is. Thread rules as for acquire().
  void when_settled(const std::string& id, std::function<void(Result<ModelInfo>)> done);

  Result<ModelInfo> info(const std::string& id) const;
  std::vector<ModelInfo> list() const;  // catalog order: config models, then API models as added
  std::vector<DeviceView> devices() const;
  std::vector<ModelStats> stats() const;  // models with an instance (ready, parked, unloading)
  const ManagerOptions& options() const { return options_; }
  // The id of the model `name` resolves to (an id or an alias).
  std::optional<std::string> resolve(std::string_view name) const;

  // --- Serving ---
  // See the header comment. Errors: model_not_found, model_failed (the load
  // error), model_not_ready (not resident and load_on_demand off),
  // model_load_timeout, shutting_down, insufficient_device_memory. Returns a
  // ticket for cancel() (0 when the callback already ran). While it waits,
  // `tick` (when set) runs on the timer thread every wait_tick (a streaming
  // request keeps its connection alive with it). A tick may still be running
  // when `done` runs on another thread, so what it does must be harmless
  // after the answer (an SSE comment is).
  Ticket acquire(std::string_view name, AcquireCallback done, std::function<void()> tick = {});
  // Withdraws a waiting acquire; its callback is not called. Unknown or
  // answered tickets are ignored.
  void cancel(Ticket ticket);

 private:
  struct Slot;
  struct Op;
  struct Waiter;
  struct Settle;
  enum class Room : uint8_t { reserved, wait, never };
  // One stage of a placement: a device, the layers it runs, its memory.
  struct StagePlan {
    std::string device;
    engine::LayerRange layers;
    uint64_t bytes = 0;
  };

  // Loader thread.
  void loader_loop();
  void run_op(const Op& op);
  bool run_load(const std::shared_ptr<Slot>& s, const std::string& device);  // false: blocked, retry later
  bool run_move(const std::shared_ptr<Slot>& s, const std::string& device);
  void finish_drains();       // unloads/parks whose requests are done (or whose drain time is up)
  // Engine thread of `id`: its backend failed for good (Scheduler's on_backend_failed).
  void backend_failed(const std::string& id, const Error& error);
  Result<std::unique_ptr<engine::Backend>> new_backend(const engine::Model& model, const engine::BackendOptions& o);
  void expire_keep_alive();
  // Frees what serves `s` now (it must be idle, or its drain time up): the
  // scheduler stops (park: pauses, keeping its queue) and the backend goes.
  // Unlocks `lk` meanwhile; callbacks to run unlocked go to *calls.
  void unload_now(const std::shared_ptr<Slot>& s, std::unique_lock<std::mutex>& lk, bool park,
                  std::vector<std::function<void()>>* calls);

  // Under mu_.
  Room make_room(const std::string& device, const std::string& owner, uint64_t bytes, std::string* why,
                 std::vector<std::shared_ptr<Slot>>* evict);
  // Whether `s` can ever fit where its spec asks (every unpinned model
  // gone): a device id, "auto" for a split, or insufficient_device_memory.
  Result<std::string> place(const Slot& s, const engine::Model* model, const engine::MemoryEstimate& cpu,
                            const engine::MemoryEstimate& gpu, std::string* why) const;
  // The stages of `model` over `devices` with `split` (see plan_layer_split).
  Result<std::vector<StagePlan>> stage_plans(const Slot& s, const engine::Model& model,
                                             const std::vector<std::string>& devices,
                                             const std::vector<int32_t>& split) const;
  // A split over the devices' free memory when no single device holds it.
  std::optional<std::vector<StagePlan>> auto_split(const Slot& s, const engine::Model& model) const;
  // make_room over every device of a placement (stages on one device add up).
  Room room_for(const std::string& owner, const std::vector<StagePlan>& stages, std::string* why,
                std::vector<std::shared_ptr<Slot>>* evict);
  // Stops busy unpinned models on the placement's devices from taking new
  // requests until enough of them are idle to be evicted.
  void drain_for(const std::string& owner, const std::vector<StagePlan>& stages);
  std::shared_ptr<Slot> find_slot(std::string_view name) const;
  // A catalog entry for `spec`, not yet in slots_.
  std::shared_ptr<Slot> new_slot(ModelSpec spec);
  // The slot an admin call changes: model_not_found, shutting_down.
  Result<std::shared_ptr<Slot>> slot_for_change(const std::string& id) const;
  // Marks `s` for unloading once its requests end (or the drain time is up).
  void begin_unload(Slot& s);
  ModelInfo info_of(const Slot& s) const;
  void queue_op(Op op);
  void serve_waiters(const std::shared_ptr<Slot>& s, std::vector<std::function<void()>>* calls);
  void fail_waiters(const std::string& id, const Error& e, std::vector<std::function<void()>>* calls);
  void settle(const std::string& id, std::vector<std::function<void()>>* calls);
  Status persist(const Slot& s);
  Result<engine::MemoryEstimate> estimate_on(const Slot& s, const engine::Model& model, engine::DeviceKind kind) const;
  void wake_loader();

  // Timer thread.
  void timer_loop();

  DeviceTable devices_;
  const ManagerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable loader_cv_;
  std::condition_variable timer_cv_;
  std::condition_variable idle_cv_;
  std::vector<std::shared_ptr<Slot>> slots_;  // catalog order
  std::deque<Op> ops_;
  std::vector<Op> blocked_;                   // loads and moves waiting for room
  bool op_running_ = false;
  bool wake_ = false;
  bool stopping_ = false;
  bool started_ = false;
  std::map<Ticket, std::unique_ptr<Waiter>> waiters_;
  std::vector<std::unique_ptr<Settle>> settles_;
  Ticket next_ticket_ = 1;
  // Shared with leases, which may outlive the manager: wakes the loader
  // while `owner` is set.
  struct IdleSignal {
    std::mutex mu;
    ModelManager* owner = nullptr;
  };
  std::shared_ptr<IdleSignal> idle_signal_ = std::make_shared<IdleSignal>();

  std::thread loader_;
  std::thread timer_;
};

}  // namespace llmd::models
