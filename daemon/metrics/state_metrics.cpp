#include "daemon/metrics/state_metrics.hpp"

#include <prometheus/metric_family.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace llmd::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void sample(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr models::ModelState kStates[] = {models::ModelState::unloaded, models::ModelState::loading,
                                          models::ModelState::ready,    models::ModelState::parked,
                                          models::ModelState::unloading, models::ModelState::failed};

}  // namespace

StateMetrics::StateMetrics(const models::ModelManager& models) : models_(models), start_time_s_(unix_now()) {}

std::vector<MetricFamily> StateMetrics::Collect() const {
  std::vector<MetricFamily> out;
  auto state = family("llmd_model_state", "1 for the state each model is in, 0 for the others", MetricType::Gauge);
  auto running = family("llmd_requests_running", "Sequences in the model's batch", MetricType::Gauge);
  auto waiting = family("llmd_requests_waiting", "Requests queued for the model or waiting for it to load",
                        MetricType::Gauge);
  auto loads = family("llmd_model_loads_total", "Loads and restores of the model that succeeded", MetricType::Counter);
  auto load_s = family("llmd_model_load_seconds_total", "Total time of those loads", MetricType::Counter);
  auto evictions = family("llmd_model_evictions_total", "Times the model was unloaded or parked to make room",
                          MetricType::Counter);
  auto moves = family("llmd_model_moves_total", "Moves of the model between devices", MetricType::Counter);
  auto memory = family("llmd_model_memory_bytes", "Memory the resident model holds (measured after its load)",
                       MetricType::Gauge);
  const std::vector<models::ModelInfo> infos = models_.list();
  for (const models::ModelInfo& i : infos) {
    const std::string& id = i.spec.id;
    for (models::ModelState s : kStates) {
      sample(state, {{"model", id}, {"state", std::string(models::to_string(s))}}, i.state == s ? 1 : 0);
    }
    sample(running, {{"model", id}}, i.running);
    sample(waiting, {{"model", id}}, i.waiting);
    sample(loads, {{"model", id}}, static_cast<double>(i.loads));
    sample(load_s, {{"model", id}}, i.load_seconds);
    sample(evictions, {{"model", id}}, static_cast<double>(i.evictions));
    sample(moves, {{"model", id}}, static_cast<double>(i.moves));
    sample(memory, {{"model", id}}, static_cast<double>(i.memory_actual));
  }
  for (auto* f : {&state, &running, &waiting, &loads, &load_s, &evictions, &moves, &memory}) out.push_back(std::move(*f));

  auto kv = family("llmd_kv_blocks", "KV-cache blocks of the model by state (total, used, cached, evictable)",
                   MetricType::Gauge);
  auto preempt = family("llmd_preemptions_total", "Sequences preempted (recomputed later), by cause", MetricType::Counter);
  auto kv_evict = family("llmd_kv_evictions_total", "Cached KV blocks evicted for new work", MetricType::Counter);
  auto steps = family("llmd_engine_steps_total", "Engine steps run", MetricType::Counter);
  auto processed = family("llmd_engine_tokens_total", "Tokens processed by the engine (prefill, recompute and decode)",
                          MetricType::Counter);
  for (const models::ModelStats& m : models_.stats()) {
    const auto& s = m.scheduler;
    sample(kv, {{"model", m.id}, {"state", "total"}}, s.kv_blocks_total);
    sample(kv, {{"model", m.id}, {"state", "used"}}, s.kv_blocks_used);
    sample(kv, {{"model", m.id}, {"state", "cached"}}, s.kv_blocks_cached);
    sample(kv, {{"model", m.id}, {"state", "evictable"}}, s.kv_blocks_evictable);
    sample(preempt, {{"model", m.id}, {"cause", "fair_share"}}, static_cast<double>(s.share_preemptions));
    sample(preempt, {{"model", m.id}, {"cause", "memory"}}, static_cast<double>(s.preemptions - s.share_preemptions));
    sample(kv_evict, {{"model", m.id}}, static_cast<double>(s.kv_evictions));
    sample(steps, {{"model", m.id}}, static_cast<double>(s.steps));
    sample(processed, {{"model", m.id}}, static_cast<double>(s.tokens_processed));
  }
  for (auto* f : {&kv, &preempt, &kv_evict, &steps, &processed}) out.push_back(std::move(*f));

  auto dev_mem = family("llmd_device_memory_bytes",
                        "Device memory: total, budget (what llmd may use), reserved (by placed models), used "
                        "(measured by resident models)",
                        MetricType::Gauge);
  auto dev_time = family("llmd_device_team_seconds_total", "Device time of forward steps charged to each team",
                         MetricType::Counter);
  auto dev_busy = family("llmd_device_busy_seconds_total",
                         "Device time of forward steps, all models (its rate is the device's busy fraction)",
                         MetricType::Counter);
  auto dev_handovers = family("llmd_device_handovers_total",
                              "Turns of the device that passed from one model's loop to another's", MetricType::Counter);
  for (const models::DeviceView& d : models_.devices()) {
    const std::string& dev = d.device.id;
    uint64_t used = 0;
    for (const models::ModelInfo& i : infos) {
      if (i.device == dev) used += i.memory_actual;
    }
    sample(dev_mem, {{"device", dev}, {"kind", "total"}}, static_cast<double>(d.device.memory_total));
    sample(dev_mem, {{"device", dev}, {"kind", "budget"}}, static_cast<double>(d.device.memory_budget));
    sample(dev_mem, {{"device", dev}, {"kind", "reserved"}}, static_cast<double>(d.device.reserved_total()));
    sample(dev_mem, {{"device", dev}, {"kind", "used"}}, static_cast<double>(used));
    if (d.device.arbiter) {
      const scheduler::DeviceArbiterStats st = d.device.arbiter->stats();
      for (const auto& t : st.teams) sample(dev_time, {{"device", dev}, {"team", t.team}}, t.device_seconds);
      sample(dev_busy, {{"device", dev}}, st.busy_seconds);
      sample(dev_handovers, {{"device", dev}}, static_cast<double>(st.handovers));
    }
  }
  out.push_back(std::move(dev_mem));
  out.push_back(std::move(dev_time));
  out.push_back(std::move(dev_busy));
  out.push_back(std::move(dev_handovers));
  collect_process(&out, start_time_s_);
  return out;
}

void collect_process(std::vector<MetricFamily>* out, double start_time_s) {
  double rss = 0, threads = 0;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) * 1024.0;  // kB
    if (line.rfind("Threads:", 0) == 0) threads = std::stod(line.substr(8));
  }
  double fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++fds;
  }
  auto rss_f = family("process_resident_memory_bytes", "Resident memory of the llmd process", MetricType::Gauge);
  sample(rss_f, {}, rss);
  auto fd_f = family("process_open_fds", "Open file descriptors of the llmd process", MetricType::Gauge);
  sample(fd_f, {}, fds);
  auto threads_f = family("llmd_process_threads", "Threads of the llmd process", MetricType::Gauge);
  sample(threads_f, {}, threads);
  auto start_f = family("process_start_time_seconds", "Start time of the llmd process (Unix seconds)",
                        MetricType::Gauge);
  sample(start_f, {}, start_time_s);
  auto up_f = family("llmd_uptime_seconds", "Seconds since llmd started", MetricType::Gauge);
  sample(up_f, {}, unix_now() - start_time_s);
  for (auto* f : {&rss_f, &fd_f, &threads_f, &start_f, &up_f}) out->push_back(std::move(*f));
}

}  // namespace llmd::metrics
