// Where a model goes: the room a device has (evicting idle models, or
// draining busy ones), single-device and split placements, and the
// feasibility check made when a model is added.
#include <algorithm>
#include <map>

#include "base/log.hpp"
#include "models/model_manager.hpp"
#include "models/model_manager_state.hpp"

namespace llmd::models {

ModelManager::Room ModelManager::make_room(const std::string& device, const std::string& owner, uint64_t bytes,
                                           std::string* why, std::vector<std::shared_ptr<Slot>>* evict) {
  Device* d = devices_.find(device);
  if (!d) {
    *why = "no device " + device;
    return Room::never;
  }
  if (d->free() >= bytes) return Room::reserved;
  // Idle, unpinned models here, least recently used first.
  std::vector<std::shared_ptr<Slot>> idle, busy;
  uint64_t pinned = 0, others = 0;
  for (const auto& s : slots_) {
    const uint64_t held = devices_.reserved_by(device, s->spec.id);
    if (s->spec.id == owner || held == 0) continue;
    if (s->spec.pinned || s->queued || s->state != ModelState::ready) {
      (s->spec.pinned ? pinned : others) += held;
      continue;
    }
    (s->idle() && !s->draining ? idle : busy).push_back(s);
  }
  auto lru = [](const auto& a, const auto& b) { return a->used_at() < b->used_at(); };
  std::sort(idle.begin(), idle.end(), lru);
  std::sort(busy.begin(), busy.end(), lru);
  uint64_t room = d->free();
  for (const auto& s : idle) {
    if (room >= bytes) break;
    room += devices_.reserved_by(device, s->spec.id);
    evict->push_back(s);
  }
  if (room >= bytes) return Room::reserved;
  evict->clear();
  uint64_t could = d->free();
  for (const auto& s : idle) could += devices_.reserved_by(device, s->spec.id);
  for (const auto& s : busy) could += devices_.reserved_by(device, s->spec.id);
  if (could >= bytes) return Room::wait;
  *why = "model '" + owner + "' needs " + format_bytes(bytes) + " on " + device + ", which has a budget of " +
         format_bytes(d->memory_budget) + ": " + format_bytes(pinned) + " held by pinned models, " +
         format_bytes(others) + " by models loading or moving, " + format_bytes(d->reserved_total() - pinned - others) +
         " by other models";
  return Room::never;
}

Result<std::string> ModelManager::place(const Slot& s, const engine::Model* model, const engine::MemoryEstimate& cpu,
                                        const engine::MemoryEstimate& gpu, std::string* why) const {
  if (!s.spec.devices.empty() && model) {
    // An explicit split: each device must be able to hold its stages.
    std::vector<std::string> devices;
    for (const auto& d : s.spec.devices) {
      auto id = devices_.resolve(d);
      if (!id) return id.take_error();
      devices.push_back(*id);
    }
    auto plans = stage_plans(s, *model, devices, s.spec.layer_split);
    if (!plans) return plans.take_error();
    std::map<std::string, uint64_t> per_device;
    for (const auto& st : *plans) per_device[st.device] += st.bytes;
    for (const auto& [id, need] : per_device) {
      const Device* d = devices_.find(id);
      uint64_t pinned = 0;
      for (const auto& o : slots_) {
        if (o->spec.pinned && o->spec.id != s.spec.id) pinned += devices_.reserved_by(id, o->spec.id);
      }
      if (d->memory_budget < pinned + need) {
        return Error(ErrorCode::insufficient_device_memory,
                     "model '" + s.spec.id + "': its part on " + id + " needs " + format_bytes(need) + ", budget " +
                         format_bytes(d->memory_budget) + ", " + format_bytes(pinned) + " held by pinned models");
      }
    }
    return devices.front();
  }
  std::vector<const Device*> candidates;
  if (s.spec.device == "auto") {
    for (const Device& d : devices_.devices()) candidates.push_back(&d);
    // GPUs first, each kind by most free memory.
    std::stable_sort(candidates.begin(), candidates.end(), [](const Device* a, const Device* b) {
      if (a->kind != b->kind) return a->kind == engine::DeviceKind::cuda;
      return a->free() > b->free();
    });
  } else {
    auto id = devices_.resolve(s.spec.device);
    if (!id) return id.take_error();
    candidates.push_back(devices_.find(*id));
  }
  std::string reasons;
  for (const Device* d : candidates) {
    const uint64_t need = (d->kind == engine::DeviceKind::cpu ? cpu : gpu).total();
    if (need == 0) continue;
    uint64_t pinned = 0;
    for (const auto& o : slots_) {
      if (o->spec.pinned && o->spec.id != s.spec.id) pinned += devices_.reserved_by(d->id, o->spec.id);
    }
    if (d->memory_budget >= pinned + need) return d->id;
    reasons += (reasons.empty() ? "" : "; ") + d->id + ": needs " + format_bytes(need) + ", budget " +
               format_bytes(d->memory_budget) + ", " + format_bytes(pinned) + " held by pinned models";
  }
  // "auto" may still split it across the devices that run layer ranges.
  if (s.spec.device == "auto" && model) {
    uint64_t room = 0;
    for (const Device& d : devices_.devices()) {
      if (!engine::supports_layer_ranges(d.kind)) continue;
      uint64_t pinned = 0;
      for (const auto& o : slots_) {
        if (o->spec.pinned && o->spec.id != s.spec.id) pinned += devices_.reserved_by(d.id, o->spec.id);
      }
      room += d.memory_budget > pinned ? d.memory_budget - pinned : 0;
    }
    if (room >= cpu.total()) return std::string("auto");
    reasons += "; split over every CPU device: needs " + format_bytes(cpu.total()) + ", " + format_bytes(room) +
               " not held by pinned models";
  }
  *why = reasons;
  return Error(ErrorCode::insufficient_device_memory,
               "model '" + s.spec.id + "' does not fit on any device even after evicting every unpinned model (" +
                   reasons + ")");
}

Result<std::vector<ModelManager::StagePlan>> ModelManager::stage_plans(const Slot& s, const engine::Model& model,
                                                                        const std::vector<std::string>& devices,
                                                                        const std::vector<int32_t>& split) const {
  auto ranges = engine::plan_layer_split(model.config().n_layer, devices.size(), split);
  if (!ranges) return ranges.take_error();
  ServingPlan plan = serving_plan(s.spec, model);
  std::vector<StagePlan> out;
  for (size_t i = 0; i < devices.size(); ++i) {
    const Device* d = devices_.find(devices[i]);
    if (!d) return Error(ErrorCode::device_unknown, "no device '" + devices[i] + "'");
    if (devices.size() > 1 && !engine::supports_layer_ranges(d->kind)) {
      return Error(ErrorCode::unsupported, "a stage of a split on " + d->id + ": this backend cannot run part of a model yet");
    }
    int32_t max_context = 0;
    const uint64_t block = engine::kv_block_bytes_on(d->kind, model.config(), {0, plan.config.block_size, plan.config.kv_dtype});
    auto shape = scheduler::Scheduler::plan_kv(block, plan.limits, plan.config, &max_context);
    if (!shape) return shape.take_error();
    auto est = engine::estimate_stage_memory(model, d->kind, *shape, plan.config.max_batched_tokens, (*ranges)[i]);
    if (!est) return est.take_error();
    out.push_back(StagePlan{d->id, (*ranges)[i], est->total()});
  }
  return out;
}

std::optional<std::vector<ModelManager::StagePlan>> ModelManager::auto_split(const Slot& s,
                                                                            const engine::Model& model) const {
  // As many layers as fit (in free memory) on the device with the most room,
  // then the next; only devices whose backend runs layer ranges take part.
  std::vector<const Device*> order;
  for (const Device& d : devices_.devices()) {
    if (engine::supports_layer_ranges(d.kind)) order.push_back(&d);
  }
  std::stable_sort(order.begin(), order.end(), [](const Device* a, const Device* b) {
    if (a->kind != b->kind) return a->kind == engine::DeviceKind::cuda;
    return a->free() > b->free();
  });
  const int32_t n = model.config().n_layer;
  if (order.size() < 2 || n < 2) return std::nullopt;
  std::vector<std::string> devices;
  std::vector<int32_t> split;
  int32_t left = n;
  for (const Device* d : order) {
    if (left == 0) break;
    // The most layers of what is left that fit this device's free memory.
    int32_t best = 0;
    for (int32_t k = left; k >= 1; --k) {
      std::vector<std::string> trial = devices;
      std::vector<int32_t> trial_split = split;
      trial.push_back(d->id);
      trial_split.push_back(k);
      if (left - k > 0) {
        trial.push_back(d->id);  // a stand-in for the rest, so the ranges are whole
        trial_split.push_back(left - k);
      }
      auto plans = stage_plans(s, model, trial, trial_split);
      if (plans && (*plans)[devices.size()].bytes <= d->free()) {
        best = k;
        break;
      }
    }
    if (best == 0) continue;
    devices.push_back(d->id);
    split.push_back(best);
    left -= best;
  }
  if (left > 0 || devices.size() < 2) return std::nullopt;
  auto plans = stage_plans(s, model, devices, split);
  if (!plans) return std::nullopt;
  return *plans;
}

ModelManager::Room ModelManager::room_for(const std::string& owner, const std::vector<StagePlan>& stages,
                                          std::string* why, std::vector<std::shared_ptr<Slot>>* evict) {
  std::map<std::string, uint64_t> per_device;
  for (const auto& st : stages) per_device[st.device] += st.bytes;
  Room worst = Room::reserved;
  for (const auto& [device, bytes] : per_device) {
    std::string w;
    std::vector<std::shared_ptr<Slot>> ev;
    const Room r = make_room(device, owner, bytes, &w, &ev);
    if (r == Room::never) {
      *why += (why->empty() ? "" : "; ") + w;
      worst = Room::never;
    } else if (r == Room::wait && worst != Room::never) {
      worst = Room::wait;
    }
    for (auto& v : ev) {
      if (std::find(evict->begin(), evict->end(), v) == evict->end()) evict->push_back(v);
    }
  }
  if (worst != Room::reserved) evict->clear();
  return worst;
}

void ModelManager::drain_for(const std::string& owner, const std::vector<StagePlan>& stages) {
  std::map<std::string, uint64_t> per_device;
  for (const auto& st : stages) per_device[st.device] += st.bytes;
  for (const auto& [device, need] : per_device) {
    const Device* d = devices_.find(device);
    uint64_t room = d->free();
    std::vector<std::shared_ptr<Slot>> busy;
    for (const auto& o : slots_) {
      if (o->spec.id == owner || o->spec.pinned || o->queued || o->state != ModelState::ready) continue;
      if (devices_.reserved_by(device, o->spec.id) > 0) busy.push_back(o);
    }
    std::sort(busy.begin(), busy.end(), [](const auto& a, const auto& b) { return a->used_at() < b->used_at(); });
    for (const auto& o : busy) {
      if (room >= need) break;
      room += devices_.reserved_by(device, o->spec.id);
      if (!o->draining) {
        // It takes no new requests (its callers wait), so the load is not starved.
        o->draining = true;
        o->drain_for_room = true;
        o->drain_to_park = d->kind == engine::DeviceKind::cuda;
      }
    }
  }
}

}  // namespace llmd::models
