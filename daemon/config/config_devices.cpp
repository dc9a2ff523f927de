// [devices] and [model_manager]: where models may run and how they load.
#include "daemon/config/config_sections.hpp"

namespace llmd::config::detail {

void parse_devices(Section& s, Config& c) {
  if (const toml::node* n = s.node("gpus")) {
    if (const auto* str = n->as_string()) {
      if (str->get() != "all") s.error("gpus", "must be \"all\" or a list of GPU indices");
    } else if (const auto* arr = n->as_array()) {
      c.devices.all_gpus = false;
      for (const auto& e : *arr) {
        const auto* i = e.as_integer();
        if (!i || i->get() < 0 || i->get() > 255) {
          s.error("gpus", "must list GPU indices 0..255");
          break;
        }
        c.devices.gpus.push_back(static_cast<int>(i->get()));
      }
    } else {
      s.error("gpus", "must be \"all\" or a list of GPU indices");
    }
  }
  if (const toml::node* n = s.node("gpu_memory_fraction")) {
    std::optional<double> v;
    if (const auto* f = n->as_floating_point()) v = f->get();
    if (const auto* i = n->as_integer()) v = static_cast<double>(i->get());
    if (!v || !(*v > 0.0 && *v <= 1.0)) {
      s.error("gpu_memory_fraction", "must be a number in (0, 1]");
    } else {
      c.devices.gpu_memory_fraction = *v;
    }
  }
  std::uint64_t n = 0;
  if (s.get_uint("cpu_partitions", 1, 64, n)) c.devices.cpu_partitions = static_cast<unsigned>(n);
  if (s.get_uint("host_memory_bytes", 0, std::uint64_t{1} << 52, n)) c.devices.host_memory_bytes = n;
}

void parse_model_manager(Section& s, Config& c) {
  s.get_bool("load_on_demand", c.model_manager.load_on_demand);
  s.get_seconds("load_timeout_s", 1.0, 86400.0, c.model_manager.load_timeout);
  s.get_seconds("wait_comment_interval_s", 0.1, 600.0, c.model_manager.wait_comment_interval);
  std::uint64_t rate = 0;
  if (s.get_uint("load_bytes_per_s", 0, std::uint64_t{1} << 50, rate)) c.model_manager.load_bytes_per_s = rate;
}

}  // namespace llmd::config::detail
