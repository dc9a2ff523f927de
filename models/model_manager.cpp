// The manager's catalog side: start and stop, the admin calls and the
// snapshots. The loader thread is in model_loader.cpp, the waits in
// model_waiters.cpp.
#include "models/model_manager.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "models/model_files.hpp"
#include "models/model_manager_state.hpp"

namespace llmd::models {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string_view to_string(ModelState s) {
  switch (s) {
    case ModelState::unloaded: return "unloaded";
    case ModelState::loading: return "loading";
    case ModelState::ready: return "ready";
    case ModelState::parked: return "parked";
    case ModelState::unloading: return "unloading";
    case ModelState::failed: return "failed";
  }
  return "unknown";
}

namespace {

Status check_spec_fields(const ModelSpec& s) {
  auto bad = [](const std::string& field, const std::string& why) {
    return Error(ErrorCode::invalid_argument, "Invalid '" + field + "': " + why);
  };
  if (!valid_model_id(s.id)) return bad("id", "'" + s.id + "' is not a valid model id (1-128 of A-Z a-z 0-9 . _ - : /)");
  for (const auto& a : s.aliases) {
    if (!valid_model_id(a)) return bad("aliases", "'" + a + "' is not a valid model id");
    if (a == s.id) return bad("aliases", "an alias repeats the id");
  }
  if (s.max_sequences < 1 || s.max_sequences > 4096) return bad("max_sequences", "must be 1..4096");
  if (s.max_choices < 1 || s.max_choices > s.max_sequences) return bad("max_choices", "must be 1..max_sequences");
  if (s.context_length > (1u << 24)) return bad("context_length", "must be at most 16777216");
  if (s.kv_cache_bytes > (uint64_t{1} << 50)) return bad("kv_cache_bytes", "is too large");
  if (s.max_waiting < 1 || s.max_waiting > (1u << 20)) return bad("max_waiting", "must be 1..1048576");
  if (s.keep_alive_s > 365u * 86400u) return bad("keep_alive_s", "must be at most a year");
  if (s.threads > 1024) return bad("threads", "must be at most 1024");
  if (s.devices.size() > 64) return bad("device", "at most 64 devices");
  if (!s.layer_split.empty() && s.layer_split.size() != s.devices.size()) {
    return bad("layer_split", "needs one layer count per device");
  }
  return ok_status();
}

}  // namespace

ModelManager::ModelManager(DeviceTable devices, ManagerOptions options)
    : devices_(std::move(devices)), options_(std::move(options)) {
  idle_signal_->owner = this;
}

ModelManager::~ModelManager() { stop(); }

Status ModelManager::start(std::vector<ModelSpec> config_models) {
  std::vector<ModelSpec> all = std::move(config_models);
  for (auto& s : all) s.source = ModelSource::config;
  if (options_.store) {
    auto stored = options_.store->load_all();
    if (!stored) return stored.take_error().with_context("cannot read the stored models: ");
    for (auto& s : *stored) {
      s.source = ModelSource::api;
      all.push_back(std::move(s));
    }
  }
  {
    std::lock_guard lk(mu_);
    if (started_) return Error(ErrorCode::internal, "the model manager is already started");
    started_ = true;
    for (auto& spec : all) {
      if (find_slot(spec.id) || std::any_of(spec.aliases.begin(), spec.aliases.end(),
                                            [&](const std::string& a) { return find_slot(a) != nullptr; })) {
        log::warnf("model '%s' (%s) skipped: its id or an alias is already in use", spec.id.c_str(),
                   std::string(to_string(spec.source)).c_str());
        continue;
      }
      auto slot = std::make_shared<Slot>();
      slot->spec = std::move(spec);
      auto* signal = idle_signal_.get();
      std::weak_ptr<IdleSignal> weak = idle_signal_;
      (void)signal;
      slot->leases->on_idle = [weak] {
        if (auto sig = weak.lock()) {
          std::lock_guard g(sig->mu);
          if (sig->owner) sig->owner->wake_loader();
        }
      };
      if (slot->spec.load) {
        slot->queued = true;
        ops_.push_back(Op{Op::Kind::load, slot->spec.id, ""});
      }
      slots_.push_back(std::move(slot));
    }
  }
  loader_ = std::thread([this] { loader_loop(); });
  timer_ = std::thread([this] { timer_loop(); });
  return ok_status();
}

bool ModelManager::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [this] { return stopping_ || (ops_.empty() && blocked_.empty() && !op_running_); });
}

void ModelManager::stop() {
  {
    std::lock_guard g(idle_signal_->mu);
    idle_signal_->owner = nullptr;
  }
  std::vector<std::function<void()>> calls;
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !loader_.joinable() && !timer_.joinable()) return;
    stopping_ = true;
    const Error e(ErrorCode::shutting_down, "the server is shutting down");
    for (auto& [t, w] : waiters_) calls.push_back([done = std::move(w->done), e] { done(e); });
    waiters_.clear();
    for (auto& st : settles_) calls.push_back([done = std::move(st->done), e] { done(e); });
    settles_.clear();
    slots = slots_;
  }
  loader_cv_.notify_all();
  timer_cv_.notify_all();
  idle_cv_.notify_all();
  if (loader_.joinable()) loader_.join();
  if (timer_.joinable()) timer_.join();
  for (auto& c : calls) c();
  // Requests still running end (their sinks get `done`); then the memory goes.
  for (auto& s : slots) {
    if (s->instance) s->instance->scheduler->stop();
    s->backend.reset();
  }
}

std::shared_ptr<ModelManager::Slot> ModelManager::find_slot(std::string_view name) const {
  for (const auto& s : slots_) {
    if (s->spec.id == name) return s;
  }
  for (const auto& s : slots_) {
    if (std::find(s->spec.aliases.begin(), s->spec.aliases.end(), name) != s->spec.aliases.end()) return s;
  }
  return nullptr;
}

std::optional<std::string> ModelManager::resolve(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto s = find_slot(name);
  if (!s) return std::nullopt;
  return s->spec.id;
}

ModelInfo ModelManager::info_of(const Slot& s) const {
  ModelInfo i;
  i.spec = s.spec;
  i.state = s.state;
  i.device = s.device;
  i.memory_estimate = s.estimate;
  i.memory_actual = s.actual;
  i.bytes_done = s.bytes_done.load(std::memory_order_relaxed);
  i.bytes_total = s.bytes_total.load(std::memory_order_relaxed);
  i.loaded_at = s.loaded_at;
  i.loads = s.loads;
  i.load_seconds = s.load_seconds;
  i.evictions = s.evictions;
  i.moves = s.moves;
  i.last_used_at = s.last_used_at;
  i.error = s.error;
  for (const auto& st : s.stages) i.stages.push_back(StageView{st.device, st.layers.first, st.layers.last, st.bytes});
  if (s.instance) {
    const scheduler::SchedulerStats st = s.instance->scheduler->stats();
    i.running = st.running;
    i.waiting = st.waiting;
    i.max_context = s.instance->max_context;
  }
  for (const auto& [t, w] : waiters_) i.waiting += w->id == s.spec.id ? 1 : 0;
  return i;
}

Result<ModelInfo> ModelManager::info(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto s = find_slot(id);
  if (!s) return Error(ErrorCode::model_not_found, "no model '" + id + "'");
  return info_of(*s);
}

std::vector<ModelInfo> ModelManager::list() const {
  std::lock_guard lk(mu_);
  std::vector<ModelInfo> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_) out.push_back(info_of(*s));
  return out;
}

std::vector<DeviceView> ModelManager::devices() const {
  std::lock_guard lk(mu_);
  std::vector<DeviceView> out;
  for (const Device& d : devices_.devices()) {
    DeviceView v{d, {}};
    for (const auto& s : slots_) {
      const bool staged = std::any_of(s->stages.begin(), s->stages.end(), [&](const auto& st) { return st.device == d.id; });
      if (s->state != ModelState::unloaded && s->state != ModelState::failed && (staged || s->device == d.id)) {
        v.models.push_back(s->spec.id);
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<ModelStats> ModelManager::stats() const {
  std::lock_guard lk(mu_);
  std::vector<ModelStats> out;
  for (const auto& s : slots_) {
    if (s->instance) out.push_back(ModelStats{s->spec.id, s->device, s->instance->scheduler->stats()});
  }
  return out;
}

Status ModelManager::persist(const Slot& s) {
  if (!options_.store || s.spec.source != ModelSource::api) return ok_status();
  return options_.store->save(s.spec);
}

void ModelManager::queue_op(Op op) {
  ops_.push_back(std::move(op));
  loader_cv_.notify_one();
}

void ModelManager::wake_loader() {
  {
    std::lock_guard lk(mu_);
    wake_ = true;
  }
  loader_cv_.notify_one();
}

Result<engine::MemoryEstimate> ModelManager::estimate_on(const Slot& s, const engine::Model& model,
                                                         engine::DeviceKind kind) const {
  ServingPlan plan = serving_plan(s.spec, model);
  int32_t max_context = 0;
  const uint64_t block = engine::kv_block_bytes_on(kind, model.config(), {0, plan.config.block_size, plan.config.kv_dtype});
  auto shape = scheduler::Scheduler::plan_kv(block, plan.limits, plan.config, &max_context);
  if (!shape) return shape.take_error();
  return engine::estimate_memory(model, kind, *shape, plan.config.max_batched_tokens);
}

Result<ModelInfo> ModelManager::add(ModelSpec spec) {
  spec.source = ModelSource::api;
  LLMD_TRY(check_spec_fields(spec));
  auto real = confine_model_path(spec.path, options_.model_dirs);
  if (!real) return real.take_error();
  spec.path = *real;
  {
    std::lock_guard lk(mu_);
    if (spec.device != "auto") {
      auto dev = devices_.resolve(spec.device);
      if (!dev) return dev.take_error();
    }
    for (const auto& d : spec.devices) {
      auto dev = devices_.resolve(d);
      if (!dev) return dev.take_error();
    }
  }
  // The file is read here, on the caller's thread, so that a model that can
  // never fit is refused before it enters the catalog.
  auto model = engine::Model::load(spec.path.string());
  auto slot = std::make_shared<Slot>();
  slot->spec = spec;
  std::weak_ptr<IdleSignal> weak = idle_signal_;
  slot->leases->on_idle = [weak] {
    if (auto sig = weak.lock()) {
      std::lock_guard g(sig->mu);
      if (sig->owner) sig->owner->wake_loader();
    }
  };
  std::optional<engine::MemoryEstimate> cpu_est, gpu_est;
  if (model) {
    auto c = estimate_on(*slot, **model, engine::DeviceKind::cpu);
    if (!c) return c.take_error();
    cpu_est = *c;
    auto g = estimate_on(*slot, **model, engine::DeviceKind::cuda);
    if (g) gpu_est = *g;
  }

  std::lock_guard lk(mu_);
  if (stopping_) return Error(ErrorCode::shutting_down, "the server is shutting down");
  if (find_slot(spec.id)) return Error(ErrorCode::model_exists, "a model '" + spec.id + "' already exists");
  for (const auto& a : spec.aliases) {
    if (find_slot(a)) return Error(ErrorCode::model_exists, "the alias '" + a + "' is already in use");
  }
  if (!model) {
    // Registered, failed with the reader's message: an admin sees why.
    slot->state = ModelState::failed;
    slot->error = model.error().message;
    slot->spec.load = false;
  } else {
    std::string why;
    auto placed = place(*slot, model->get(), *cpu_est, gpu_est.value_or(engine::MemoryEstimate{}), &why);
    if (!placed) return placed.take_error();
  }
  LLMD_TRY(persist(*slot));
  if (slot->spec.load && model) {
    slot->queued = true;
    slot->state = ModelState::loading;
    queue_op(Op{Op::Kind::load, spec.id, ""});
  }
  slots_.push_back(slot);
  log::noticef("model '%s' added (%s)", spec.id.c_str(), spec.path.c_str());
  return info_of(*slot);
}

Result<std::shared_ptr<ModelManager::Slot>> ModelManager::slot_for_change(const std::string& id) const {
  if (stopping_) return Error(ErrorCode::shutting_down, "the server is shutting down");
  auto s = find_slot(id);
  if (!s) return Error(ErrorCode::model_not_found, "no model '" + id + "'");
  return s;
}

void ModelManager::begin_unload(Slot& s) {
  s.draining = true;
  s.drain_to_park = false;
  s.drain_for_room = false;
  s.drain_deadline = SteadyClock::now() + options_.drain_timeout;
  s.state = ModelState::unloading;
  wake_ = true;
  loader_cv_.notify_one();
}

Result<ModelInfo> ModelManager::load(const std::string& id, const std::string& device) {
  std::lock_guard lk(mu_);
  auto found = slot_for_change(id);
  if (!found) return found.take_error();
  std::shared_ptr<Slot> s = std::move(*found);
  if (!device.empty() && device != "auto" && device != "host") {
    auto dev = devices_.resolve(device);
    if (!dev) return dev.take_error();
  }
  if (device == "host") return Error(ErrorCode::invalid_argument, "Invalid 'device': load to a device; park with move");
  if (s->removing) return Error(ErrorCode::model_state_conflict, "model '" + id + "' is being removed");
  if (s->state == ModelState::ready && !s->draining) {
    if (device.empty() || device == "auto" || devices_.resolve(device).value_or("") == s->device) return info_of(*s);
    if (!s->queued) {
      s->queued = true;
      queue_op(Op{Op::Kind::move, id, device});
    }
    return info_of(*s);
  }
  if (s->state == ModelState::unloading || s->draining) {
    return Error(ErrorCode::model_state_conflict, "model '" + id + "' is being unloaded or parked; load it when that is done");
  }
  if (!s->spec.load) {
    s->spec.load = true;
    LLMD_TRY(persist(*s));
  }
  if (!s->queued) {
    s->queued = true;
    if (s->state != ModelState::parked) {
      s->state = ModelState::loading;
      s->error.clear();
    }
    queue_op(Op{Op::Kind::load, id, device});
  }
  return info_of(*s);
}

Result<ModelInfo> ModelManager::unload(const std::string& id) {
  std::lock_guard lk(mu_);
  auto found = slot_for_change(id);
  if (!found) return found.take_error();
  std::shared_ptr<Slot> s = std::move(*found);
  if (s->queued) return Error(ErrorCode::model_state_conflict, "model '" + id + "' is loading or moving; unload it when that is done");
  if (s->spec.load) {
    s->spec.load = false;
    LLMD_TRY(persist(*s));
  }
  if (s->state == ModelState::ready || s->state == ModelState::parked) {
    begin_unload(*s);
  }
  return info_of(*s);
}

Result<ModelInfo> ModelManager::move(const std::string& id, const std::string& device) {
  std::lock_guard lk(mu_);
  auto found = slot_for_change(id);
  if (!found) return found.take_error();
  std::shared_ptr<Slot> s = std::move(*found);
  if (s->state != ModelState::ready || s->draining || s->queued) {
    if (s->state == ModelState::parked && device != "host" && !s->queued) {
      auto dev = devices_.resolve(device);
      if (!dev) return dev.take_error();
      s->queued = true;
      queue_op(Op{Op::Kind::load, id, device});
      return info_of(*s);
    }
    return Error(ErrorCode::model_state_conflict,
                 "model '" + id + "' is " + std::string(to_string(s->state)) + "; only a ready model can move");
  }
  if (device == "host") {
    const Device* d = devices_.find(s->device);
    if (!d || d->kind != engine::DeviceKind::cuda) {
      return Error(ErrorCode::model_state_conflict, "model '" + id + "' runs on " + s->device +
                                                        "; parking in host memory applies to GPU models");
    }
    s->draining = true;
    s->drain_to_park = true;
    s->drain_for_room = false;
    wake_ = true;
    loader_cv_.notify_one();
    return info_of(*s);
  }
  auto dev = devices_.resolve(device);
  if (!dev) return dev.take_error();
  if (*dev == s->device) return info_of(*s);
  // Refuse at once what can never fit on the target.
  const Device* target = devices_.find(*dev);
  auto est = estimate_on(*s, *s->instance->model, target->kind);
  if (!est) return est.take_error();
  uint64_t pinned = 0;
  for (const auto& o : slots_) {
    if (o != s && o->spec.pinned) pinned += devices_.reserved_by(*dev, o->spec.id);
  }
  if (target->memory_budget < pinned + est->total()) {
    return Error(ErrorCode::insufficient_device_memory,
                 "model '" + id + "' needs " + format_bytes(est->total()) + " on " + *dev + ", whose budget is " +
                     format_bytes(target->memory_budget) + " with " + format_bytes(pinned) + " held by pinned models");
  }
  s->queued = true;
  queue_op(Op{Op::Kind::move, id, *dev});
  return info_of(*s);
}

Status ModelManager::remove(const std::string& id) {
  std::vector<std::function<void()>> calls;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return Error(ErrorCode::shutting_down, "the server is shutting down");
    auto s = find_slot(id);
    if (!s || s->spec.id != id) return Error(ErrorCode::model_not_found, "no model '" + id + "'");
    if (s->spec.source == ModelSource::config) {
      return Error(ErrorCode::model_from_config, "model '" + id + "' comes from the configuration file; remove it there");
    }
    if (s->queued) {
      return Error(ErrorCode::model_state_conflict, "model '" + id + "' is loading or moving; remove it when that is done");
    }
    if (options_.store) LLMD_TRY(options_.store->remove(id));
    s->removing = true;
    s->spec.load = false;
    if (s->state == ModelState::ready || s->state == ModelState::parked || s->state == ModelState::unloading) {
      if (s->state != ModelState::unloading) begin_unload(*s);
    } else {
      slots_.erase(std::find(slots_.begin(), slots_.end(), s));
      fail_waiters(id, Error(ErrorCode::model_not_found, "model '" + id + "' was removed"), &calls);
      settle(id, &calls);
    }
  }
  for (auto& c : calls) c();
  log::noticef("model '%s' removed", id.c_str());
  return ok_status();
}

}  // namespace llmd::models
