#include "daemon/app/model_setup.hpp"

#include "daemon/http/notify_batch.hpp"

namespace llmd::daemon {

models::ModelSpec spec_from_config(const config::ModelConfig& m) {
  models::ModelSpec s;
  s.id = m.name;
  s.path = m.path;
  s.aliases = m.aliases;
  s.device = m.device;
  s.devices = m.devices;
  s.layer_split = m.layer_split;
  s.pinned = m.pinned;
  s.keep_alive_s = m.keep_alive_s;
  s.context_length = m.context_length;
  s.max_sequences = m.max_sequences;
  s.max_choices = m.max_choices;
  s.max_waiting = m.max_waiting;
  s.max_waiting_per_team = m.max_waiting_per_team;
  s.share_preemption = m.share_preemption;
  s.kv_cache_bytes = m.kv_cache_bytes;
  s.chat_template_name = m.chat_template_name;
  s.chat_template = m.chat_template;
  s.threads = m.threads;
  s.source = models::ModelSource::config;
  s.load = true;
  s.origin = m.origin;
  return s;
}

std::vector<models::ModelSpec> specs_from_config(const config::Config& cfg) {
  std::vector<models::ModelSpec> out;
  for (const auto& m : cfg.models) out.push_back(spec_from_config(m));
  return out;
}

models::DeviceOptions device_options(const config::Config& cfg) {
  models::DeviceOptions o;
  o.all_gpus = cfg.devices.all_gpus;
  o.gpus = cfg.devices.gpus;
  o.gpu_memory_fraction = cfg.devices.gpu_memory_fraction;
  o.cpu_partitions = static_cast<int>(cfg.devices.cpu_partitions);
  o.host_memory_bytes = cfg.devices.host_memory_bytes;
  return o;
}

models::ManagerOptions manager_options(const config::Config& cfg, models::ModelStore* store) {
  models::ManagerOptions o;
  o.model_dirs = cfg.paths.model_dirs;
  o.load_on_demand = cfg.model_manager.load_on_demand;
  o.load_timeout = cfg.model_manager.load_timeout;
  o.wait_tick = cfg.model_manager.wait_comment_interval;
  o.load_bytes_per_s = cfg.model_manager.load_bytes_per_s;
  o.drain_timeout = cfg.server.drain_timeout;
  o.after_step = [] { http::NotifyBatch::flush_this_thread(); };  // one I/O wake-up per step
  o.store = store;
  return o;
}

}  // namespace llmd::daemon
