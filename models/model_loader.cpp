// The manager's loader thread: loads, restores, moves, evictions and the
// end of unloads. It is the only thread that creates or destroys backends.
//
// Lock rule: the loader never waits for an engine thread (a scheduler's step
// boundary or stop) while it holds the manager's mutex, because an engine
// thread ending a request releases a lease, and that takes the mutex.
#include <algorithm>
#include <future>
#include <utility>

#include "base/log.hpp"
#include "models/load_pacer.hpp"
#include "models/model_manager.hpp"
#include "models/model_manager_state.hpp"

namespace llmd::models {
namespace {

void run_all(std::vector<std::function<void()>>& calls) {
  for (auto& c : calls) c();
  calls.clear();
}

// Waits until `sched` no longer uses its backend and runs on `next` (null:
// paused). Never under the manager's mutex.
void switch_backend(scheduler::Scheduler& sched, engine::Backend* next,
                    std::shared_ptr<scheduler::DeviceArbiter> arbiter = nullptr) {
  std::promise<void> switched;
  std::future<void> done = switched.get_future();
  sched.replace_backend(next, [&switched] { switched.set_value(); }, std::move(arbiter));
  done.wait();
}

}  // namespace

void ModelManager::loader_loop() {
  std::vector<std::function<void()>> calls;
  std::unique_lock lk(mu_);
  while (!stopping_) {
    // Wake for work, for a drain or keep-alive deadline, or once a second.
    auto until = SteadyClock::now() + std::chrono::seconds(1);
    for (const auto& s : slots_) {
      if (s->draining && !s->drain_for_room && !s->drain_to_park) until = std::min(until, s->drain_deadline);
    }
    loader_cv_.wait_until(lk, until, [this] { return stopping_ || !ops_.empty() || wake_; });
    if (stopping_) break;
    const bool retry = wake_ || !ops_.empty();
    wake_ = false;
    lk.unlock();
    finish_drains();
    expire_keep_alive();
    lk.lock();
    if (retry && !blocked_.empty()) {
      // Room may have appeared: try the waiting loads again, oldest first.
      for (auto it = blocked_.rbegin(); it != blocked_.rend(); ++it) ops_.push_front(std::move(*it));
      blocked_.clear();
    }
    while (!ops_.empty() && !stopping_) {
      Op op = std::move(ops_.front());
      ops_.pop_front();
      op_running_ = true;
      lk.unlock();
      run_op(op);
      finish_drains();
      lk.lock();
      op_running_ = false;
    }
    idle_cv_.notify_all();
  }
  lk.unlock();
  run_all(calls);
}

void ModelManager::run_op(const Op& op) {
  std::shared_ptr<Slot> s;
  {
    std::lock_guard lk(mu_);
    s = find_slot(op.id);
    if (!s || s->spec.id != op.id) return;
  }
  const bool done = op.kind == Op::Kind::load ? run_load(s, op.device) : run_move(s, op.device);
  std::lock_guard lk(mu_);
  if (done) {
    s->queued = false;
  } else {
    blocked_.push_back(op);
  }
}

bool ModelManager::run_load(const std::shared_ptr<Slot>& s, const std::string& requested) {
  std::vector<std::function<void()>> calls;
  std::unique_lock lk(mu_);
  if (stopping_ || s->removing) return true;
  if (s->state == ModelState::ready) {
    serve_waiters(s, &calls);
    settle(s->spec.id, &calls);
    lk.unlock();
    run_all(calls);
    return true;
  }
  const ModelSpec spec = s->spec;
  const SteadyClock::time_point started = SteadyClock::now();
  std::shared_ptr<ModelInstance> instance = s->instance;  // a parked model keeps it
  const bool restoring = s->state == ModelState::parked && instance;
  const std::string parked_on = s->device;
  if (!restoring) s->state = ModelState::loading;
  lk.unlock();

  auto fail = [&](Error e) {
    lk.lock();
    log::errorf("model '%s': %s", spec.id.c_str(), e.message.c_str());
    if (s->instance && !restoring) s->instance.reset();
    devices_.release_owner(spec.id);
    s->state = ModelState::failed;
    s->error = e.message;
    s->queued = false;  // with the state, so that a caller seeing "failed" may act on it at once
    fail_waiters(spec.id, e, &calls);
    settle(spec.id, &calls);
    lk.unlock();
    run_all(calls);
    return true;
  };

  std::unique_ptr<engine::Model> model;
  const engine::Model* m = restoring ? instance->model.get() : nullptr;
  if (!restoring) {
    auto loaded = engine::Model::load(spec.path.string());
    if (!loaded) return fail(loaded.take_error().with_context("model '" + spec.id + "': "));
    model = std::move(*loaded);
    m = model.get();
  }
  lk.lock();
  if (stopping_ || s->removing) return true;
  // The placements to try, in order: an explicit split; the requested (or
  // configured) device; with "auto" every device (GPUs first, most free
  // memory first), then a split over the devices' free memory.
  const std::string want = requested.empty() ? (restoring ? parked_on : spec.device) : requested;
  std::vector<std::vector<StagePlan>> options;
  std::string reasons;
  auto add_option = [&](const std::vector<std::string>& devices, const std::vector<int32_t>& split) {
    auto plans = stage_plans(*s, *m, devices, split);
    if (plans) {
      options.push_back(std::move(*plans));
    } else {
      reasons += (reasons.empty() ? "" : "; ") + plans.error().message;
    }
  };
  if (requested.empty() && !restoring && !spec.devices.empty()) {
    std::vector<std::string> devices;
    for (const auto& d : spec.devices) {
      auto id = devices_.resolve(d);
      if (!id) {
        lk.unlock();
        return fail(id.take_error());
      }
      devices.push_back(*id);
    }
    add_option(devices, spec.layer_split);
  } else if (want == "auto") {
    std::vector<const Device*> order;
    for (const Device& d : devices_.devices()) order.push_back(&d);
    std::stable_sort(order.begin(), order.end(), [](const Device* x, const Device* y) {
      if (x->kind != y->kind) return x->kind == engine::DeviceKind::cuda;
      return x->free() > y->free();
    });
    for (const Device* d : order) add_option({d->id}, {});
  } else {
    auto id = devices_.resolve(want);
    if (!id) {
      lk.unlock();
      return fail(id.take_error());
    }
    add_option({*id}, {});
  }
  std::vector<StagePlan> chosen;
  std::vector<std::shared_ptr<Slot>> evict;
  const std::vector<StagePlan>* wait_on = nullptr;
  for (const auto& o : options) {
    std::string why;
    std::vector<std::shared_ptr<Slot>> ev;
    const Room r = room_for(spec.id, o, &why, &ev);
    if (r == Room::reserved) {
      chosen = o;
      evict = std::move(ev);
      break;
    }
    if (r == Room::wait && !wait_on) wait_on = &o;
    if (r == Room::never) reasons += (reasons.empty() ? "" : "; ") + why;
  }
  if (chosen.empty() && !wait_on && want == "auto" && spec.devices.empty()) {
    if (auto split = auto_split(*s, *m)) chosen = std::move(*split);
  }
  if (chosen.empty() && wait_on) {
    // Room will come when busy models finish; they take no new requests meanwhile.
    drain_for(spec.id, *wait_on);
    if (!restoring) s->state = ModelState::loading;
    s->device = wait_on->front().device;
    wake_ = true;
    return false;
  }
  if (chosen.empty()) {
    lk.unlock();
    return fail(Error(ErrorCode::insufficient_device_memory,
                      reasons.empty() ? "model '" + spec.id + "': no device can hold it" : reasons));
  }
  for (const auto& v : evict) {
    log::noticef("model '%s' evicted to make room for '%s'", v->spec.id.c_str(), spec.id.c_str());
    ++v->evictions;
    const Device* vd = devices_.find(v->device);
    unload_now(v, lk, vd && vd->kind == engine::DeviceKind::cuda, &calls);
  }
  uint64_t need = 0;
  bool reserved = true;
  for (const auto& st : chosen) {
    reserved = reserved && devices_.reserve(st.device, spec.id, st.bytes);
    need += st.bytes;
  }
  if (!reserved) {
    // Freed memory was taken meanwhile: try again later.
    devices_.release_owner(spec.id);
    wake_ = true;
    return false;
  }
  std::string where, stage_list;
  std::vector<std::string> stage_devices;
  std::vector<int32_t> stage_layers;
  for (const auto& st : chosen) {
    where += (where.empty() ? "" : "+") + st.device;
    stage_devices.push_back(st.device);
    stage_layers.push_back(st.layers.count());
  }
  s->device = where;
  s->stages = chosen;
  s->estimate = need;
  s->state = restoring ? ModelState::parked : ModelState::loading;
  s->bytes_done.store(0);
  s->bytes_total.store(m->weight_bytes());
  const Device* dev = devices_.find(chosen.front().device);
  const std::shared_ptr<scheduler::DeviceArbiter> arbiter = dev->arbiter;
  const engine::DeviceKind kind = dev->kind;
  const int threads = spec.threads > 0 ? static_cast<int>(spec.threads) : dev->threads;
  const std::string chosen_name = where;
  lk.unlock();
  run_all(calls);

  if (!instance) {
    auto opened = open_instance(spec, std::move(model), kind, options_.after_step,
                                [this, id = spec.id](const Error& e) { backend_failed(id, e); });
    if (!opened) return fail(opened.take_error());
    instance = std::move(*opened);
  }
  engine::BackendOptions bo;
  bo.device = stage_devices.front();
  if (stage_devices.size() > 1) {
    bo.devices = stage_devices;
    bo.layer_split = stage_layers;
  }
  bo.threads = threads;
  bo.max_context = instance->max_context;
  // A load from the file keeps to [model_manager] load_bytes_per_s; a
  // restore from host RAM reads no file and is not paced.
  const LoadPacer pacer(restoring ? 0 : options_.load_bytes_per_s);
  bo.progress = [this, s, &pacer](uint64_t done, uint64_t total) {
    s->bytes_done.store(done, std::memory_order_relaxed);
    s->bytes_total.store(total, std::memory_order_relaxed);
    pacer.pace(done, [this] {
      std::lock_guard g(mu_);
      return stopping_;
    });
  };
  auto backend = new_backend(*instance->model, bo);
  if (!backend) {
    if (!restoring) instance->scheduler->stop();
    return fail(backend.take_error().with_context("model '" + spec.id + "' on " + chosen_name + ": "));
  }
  if (Status st = (*backend)->init_kv(instance->scheduler->kv_shape()); !st) {
    if (!restoring) instance->scheduler->stop();
    return fail(st.take_error().with_context("model '" + spec.id + "' on " + chosen_name + ": "));
  }
  std::unique_ptr<engine::Backend> b = std::move(*backend);
  engine::Backend* raw = b.get();
  const uint64_t actual = b->memory_bytes();

  lk.lock();
  s->backend = std::move(b);
  s->instance = instance;
  // Steps from its next boundary on, taking turns with the other models on
  // its (first) device.
  instance->scheduler->replace_backend(raw, nullptr, arbiter);
  s->actual = actual;
  if (chosen.size() == 1 && actual > need) devices_.set_reserved(chosen_name, spec.id, actual);
  s->state = ModelState::ready;
  ++s->loads;
  s->load_seconds += std::chrono::duration<double>(SteadyClock::now() - started).count();
  s->queued = false;  // with the state, so that a caller seeing "ready" may move or unload it at once
  s->error.clear();
  s->loaded_at = unix_now();
  s->last_used = SteadyClock::now();
  log::noticef("model '%s' %s on %s: memory %s (estimate %s), %d layers, context %d, backend %s", spec.id.c_str(),
               restoring ? "restored" : "loaded", chosen_name.c_str(), format_bytes(actual).c_str(),
               format_bytes(need).c_str(), instance->model->config().n_layer, instance->max_context,
               raw->name().c_str());
  serve_waiters(s, &calls);
  settle(spec.id, &calls);
  lk.unlock();
  run_all(calls);
  return true;
}

bool ModelManager::run_move(const std::shared_ptr<Slot>& s, const std::string& target) {
  std::vector<std::function<void()>> calls;
  std::unique_lock lk(mu_);
  if (stopping_ || s->state != ModelState::ready || s->draining || s->device == target || !s->instance) return true;
  const Device* dev = devices_.find(target);
  if (!dev) return true;
  auto est = estimate_on(*s, *s->instance->model, dev->kind);
  if (!est) {
    s->error = "move to " + target + " failed: " + est.error().message;
    s->queued = false;
    return true;
  }
  std::string why;
  std::vector<std::shared_ptr<Slot>> evict;
  const Room r = make_room(target, s->spec.id, est->total(), &why, &evict);
  if (r == Room::wait) return false;
  if (r == Room::never) {
    s->error = "move to " + target + " failed: " + why;
    s->queued = false;
    log::errorf("model '%s': %s", s->spec.id.c_str(), s->error.c_str());
    return true;
  }
  for (const auto& v : evict) {
    ++v->evictions;
    unload_now(v, lk, dev->kind == engine::DeviceKind::cuda, &calls);
  }
  const uint64_t held_on_target = devices_.reserved_by(target, s->spec.id);  // a split's stage may be there
  if (!devices_.reserve(target, s->spec.id, est->total())) return false;
  std::shared_ptr<ModelInstance> instance = s->instance;
  const int threads = s->spec.threads > 0 ? static_cast<int>(s->spec.threads) : dev->threads;
  const std::shared_ptr<scheduler::DeviceArbiter> arbiter = dev->arbiter;
  const std::string id = s->spec.id;
  const std::string from = s->device;
  lk.unlock();
  run_all(calls);

  // The new backend is built while the old one serves.
  engine::BackendOptions bo;
  bo.device = target;
  bo.threads = threads;
  bo.max_context = instance->max_context;
  auto backend = new_backend(*instance->model, bo);
  Status st = backend ? (*backend)->init_kv(instance->scheduler->kv_shape()) : Status(backend.error());
  if (!st) {
    lk.lock();
    devices_.set_reserved(target, id, held_on_target);
    s->error = "move to " + target + " failed: " + st.error().message;
    s->queued = false;
    log::errorf("model '%s': %s", id.c_str(), s->error.c_str());
    return true;
  }
  std::unique_ptr<engine::Backend> next = std::move(*backend);
  const uint64_t actual = next->memory_bytes();  // before the engine thread drives it
  switch_backend(*instance->scheduler, next.get(), arbiter);

  lk.lock();
  std::unique_ptr<engine::Backend> old = std::move(s->backend);
  s->backend = std::move(next);
  s->device = target;
  ++s->moves;
  s->estimate = est->total();
  s->actual = actual;
  s->stages = {StagePlan{target, {0, instance->model->config().n_layer, instance->model->config().n_layer}, est->total()}};
  devices_.release_owner_except(id, target);
  devices_.set_reserved(target, id, std::max(actual, est->total()));
  s->error.clear();
  s->queued = false;
  lk.unlock();
  old.reset();
  log::noticef("model '%s' moved from %s to %s", id.c_str(), from.c_str(), target.c_str());
  return true;
}

void ModelManager::unload_now(const std::shared_ptr<Slot>& s, std::unique_lock<std::mutex>& lk, bool park,
                              std::vector<std::function<void()>>* calls) {
  std::shared_ptr<ModelInstance> instance = s->instance;
  std::unique_ptr<engine::Backend> backend = std::move(s->backend);
  const std::string device = s->device;
  s->state = ModelState::unloading;
  s->queued = true;  // nothing else touches it meanwhile
  lk.unlock();
  if (instance) {
    if (park) {
      switch_backend(*instance->scheduler, nullptr);  // requests queue inside it until restored
    } else {
      instance->scheduler->stop();  // requests still running end
    }
  }
  backend.reset();
  lk.lock();
  s->queued = false;
  devices_.release_owner(s->spec.id);
  s->stages.clear();
  s->actual = 0;
  s->draining = s->drain_for_room = s->drain_to_park = false;
  if (park) {
    s->state = ModelState::parked;
    log::noticef("model '%s' parked (device memory on %s freed)", s->spec.id.c_str(), device.c_str());
  } else {
    s->instance.reset();
    s->state = ModelState::unloaded;
    s->device.clear();
    s->bytes_done.store(0);
    log::noticef("model '%s' unloaded from %s", s->spec.id.c_str(), device.c_str());
  }
  if (s->removing) {
    slots_.erase(std::remove(slots_.begin(), slots_.end(), s), slots_.end());
    fail_waiters(s->spec.id, Error(ErrorCode::model_not_found, "model '" + s->spec.id + "' was removed"), calls);
  } else if (std::exchange(s->reload, false) ||
             (options_.load_on_demand && std::any_of(waiters_.begin(), waiters_.end(),
                                                     [&](const auto& w) { return w.second->id == s->spec.id; }))) {
    // Its spec changed, or requests arrived while it went away: bring it back.
    s->queued = true;
    s->state = ModelState::loading;
    ops_.push_back(Op{Op::Kind::load, s->spec.id, ""});
    wake_ = true;
  }
  settle(s->spec.id, calls);
}

void ModelManager::finish_drains() {
  std::vector<std::function<void()>> calls;
  std::unique_lock lk(mu_);
  const auto now = SteadyClock::now();
  for (bool again = true; again && !stopping_;) {
    again = false;
    for (const auto& s : slots_) {
      if (!s->draining || s->queued) continue;
      const bool timed_out = !s->drain_for_room && !s->drain_to_park && now >= s->drain_deadline;
      if (!s->idle() && !timed_out) continue;
      if (timed_out && !s->idle()) {
        log::warnf("model '%s': drain time is up; ending its remaining requests", s->spec.id.c_str());
      }
      const bool park = s->drain_to_park && s->instance && s->state == ModelState::ready;
      auto keep = s;
      unload_now(keep, lk, park, &calls);
      wake_ = true;  // blocked loads may fit now
      again = true;  // slots_ may have changed
      break;
    }
  }
  lk.unlock();
  run_all(calls);
  if (!calls.empty()) idle_cv_.notify_all();
}

void ModelManager::expire_keep_alive() {
  std::lock_guard lk(mu_);
  const auto now = SteadyClock::now();
  for (const auto& s : slots_) {
    if (s->spec.keep_alive_s == 0 || s->state != ModelState::ready || s->draining || s->queued || !s->idle()) continue;
    if (now - s->used_at() < std::chrono::seconds(s->spec.keep_alive_s)) continue;
    const Device* d = devices_.find(s->device);
    s->draining = true;
    s->drain_for_room = true;  // no deadline: it is idle
    s->drain_to_park = d && d->kind == engine::DeviceKind::cuda;
    log::infof("model '%s' idle for %u s: %s", s->spec.id.c_str(), s->spec.keep_alive_s,
               s->drain_to_park ? "parking" : "unloading");
    wake_ = true;
  }
}

Result<std::unique_ptr<engine::Backend>> ModelManager::new_backend(const engine::Model& model,
                                                                 const engine::BackendOptions& o) {
  return options_.make_backend ? options_.make_backend(model, o) : engine::make_backend(model, o);
}

void ModelManager::backend_failed(const std::string& id, const Error& error) {
  {
    std::lock_guard lk(mu_);
    auto s = find_slot(id);
    if (s && s->spec.id == id) {
      s->state = ModelState::failed;
      s->error = "the device failed: " + error.message;
    }
  }
  log::errorf("model '%s': its backend failed for good: %s", id.c_str(), error.message.c_str());
  if (options_.on_backend_failed) options_.on_backend_failed(id, error.message);
}

}  // namespace llmd::models
