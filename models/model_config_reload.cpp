// The config's models applied to a running manager (the daemon's reload), and
// the engine loops' progress that the daemon's watchdog reads.
#include <algorithm>
#include <map>

#include "base/log.hpp"
#include "models/model_instance.hpp"
#include "models/model_manager.hpp"
#include "models/model_manager_state.hpp"

namespace llmd::models {

namespace {

// Whether `a` and `b` serve the same way: they differ at most in what only
// the catalog reads (name resolution, eviction, idle expiry), which needs
// no reload, and in where they come from.
bool same_but_catalog_fields(ModelSpec a, const ModelSpec& b) {
  a.aliases = b.aliases;
  a.pinned = b.pinned;
  a.keep_alive_s = b.keep_alive_s;
  a.source = b.source;
  a.load = b.load;
  a.origin = b.origin;
  return a == b;
}

bool same_catalog_fields(const ModelSpec& a, const ModelSpec& b) {
  return a.aliases == b.aliases && a.pinned == b.pinned && a.keep_alive_s == b.keep_alive_s;
}

}  // namespace

std::shared_ptr<ModelManager::Slot> ModelManager::new_slot(ModelSpec spec) {
  auto slot = std::make_shared<Slot>();
  slot->spec = std::move(spec);
  std::weak_ptr<IdleSignal> weak = idle_signal_;
  slot->leases->on_idle = [weak] {
    if (auto sig = weak.lock()) {
      std::lock_guard g(sig->mu);
      if (sig->owner) sig->owner->wake_loader();
    }
  };
  return slot;
}

Result<ConfigModelChanges> ModelManager::apply_config_models(std::vector<ModelSpec> specs) {
  for (auto& s : specs) {
    s.source = ModelSource::config;
    s.load = true;
  }
  std::vector<std::function<void()>> calls;
  ConfigModelChanges changes;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return Error(ErrorCode::shutting_down, "the server is shutting down");
    if (!started_) return Error(ErrorCode::internal, "the model manager is not started");

    std::map<std::string, const ModelSpec*> wanted;
    for (const auto& s : specs) wanted.emplace(s.id, &s);
    std::vector<std::shared_ptr<Slot>> gone;  // config models no longer listed
    for (const auto& s : slots_) {
      if (s->spec.source == ModelSource::config && !s->removing && !wanted.count(s->spec.id)) gone.push_back(s);
    }
    auto is_gone = [&](const std::shared_ptr<Slot>& s) { return std::find(gone.begin(), gone.end(), s) != gone.end(); };
    auto busy = [](const std::string& id) {
      return Error(ErrorCode::model_state_conflict,
                   "model '" + id + "' is loading or moving; reload again when that is done");
    };

    // Check every entry before changing anything.
    for (const auto& s : gone) {
      if (s->queued) return busy(s->spec.id);
    }
    for (const auto& spec : specs) {
      std::shared_ptr<Slot> own;
      for (const auto& s : slots_) {
        if (s->spec.id == spec.id) own = s;
      }
      if (own && own->spec.source != ModelSource::config) {
        return Error(ErrorCode::model_exists, spec.origin + ": model '" + spec.id +
                                                  "' was added over the admin API; remove it there first");
      }
      if (own && own->removing) {
        return Error(ErrorCode::model_state_conflict,
                     "model '" + spec.id + "' is being removed; reload again once it is unloaded");
      }
      if (own && own->queued && !same_but_catalog_fields(own->spec, spec)) return busy(spec.id);
      // Names (the id and each alias) held by another model that stays.
      std::vector<std::string> names = spec.aliases;
      names.push_back(spec.id);
      for (const auto& name : names) {
        for (const auto& s : slots_) {
          if (s == own || is_gone(s) || s->removing) continue;
          const bool holds = s->spec.id == name ||
                             std::find(s->spec.aliases.begin(), s->spec.aliases.end(), name) != s->spec.aliases.end();
          // A config model that is still listed gives up an alias it no longer has.
          const bool keeps = s->spec.source != ModelSource::config || s->spec.id == name ||
                             std::any_of(specs.begin(), specs.end(), [&](const ModelSpec& o) {
                               return o.id == s->spec.id &&
                                      std::find(o.aliases.begin(), o.aliases.end(), name) != o.aliases.end();
                             });
          if (holds && keeps) {
            return Error(ErrorCode::model_exists, spec.origin + ": the name '" + name + "' is already used by model '" +
                                                      s->spec.id + "'");
          }
        }
      }
    }

    // Apply.
    for (const auto& s : gone) {
      s->removing = true;
      s->reload = false;
      s->spec.load = false;
      s->spec.aliases.clear();  // the names are free at once; the slot only drains
      changes.removed.push_back(s->spec.id);
      if (s->state == ModelState::ready || s->state == ModelState::parked) {
        begin_unload(*s);
      } else if (s->state != ModelState::unloading) {
        const std::string id = s->spec.id;
        slots_.erase(std::find(slots_.begin(), slots_.end(), s));
        fail_waiters(id, Error(ErrorCode::model_not_found, "model '" + id + "' was removed"), &calls);
        settle(id, &calls);
      }
    }
    for (auto& spec : specs) {
      std::shared_ptr<Slot> own;
      for (const auto& s : slots_) {
        if (s->spec.id == spec.id) own = s;
      }
      if (!own) {
        auto slot = new_slot(spec);
        slot->queued = true;
        slot->state = ModelState::loading;
        changes.added.push_back(spec.id);
        slots_.push_back(slot);
        queue_op(Op{Op::Kind::load, spec.id, ""});
        continue;
      }
      if (same_but_catalog_fields(own->spec, spec)) {
        own->spec.origin = spec.origin;
        if (!same_catalog_fields(own->spec, spec)) {
          own->spec.aliases = spec.aliases;
          own->spec.pinned = spec.pinned;
          own->spec.keep_alive_s = spec.keep_alive_s;
          changes.updated.push_back(spec.id);
        }
        continue;
      }
      own->spec = spec;
      changes.changed.push_back(spec.id);
      if (own->state == ModelState::ready || own->state == ModelState::parked) {
        own->reload = true;
        begin_unload(*own);
      } else if (own->state == ModelState::unloading) {
        own->reload = true;
      } else {  // unloaded or failed
        own->queued = true;
        own->state = ModelState::loading;
        own->error.clear();
        queue_op(Op{Op::Kind::load, spec.id, ""});
      }
    }
  }
  for (auto& c : calls) c();
  return changes;
}

std::vector<EngineProgress> ModelManager::engine_progress() const {
  std::vector<EngineProgress> out;
  std::lock_guard lk(mu_);
  for (const auto& s : slots_) {
    if (!s->instance || !s->instance->scheduler) continue;
    out.push_back(EngineProgress{s->spec.id, s->instance->scheduler->in_step()});
  }
  return out;
}

}  // namespace llmd::models
