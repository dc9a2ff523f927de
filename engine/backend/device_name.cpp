// Device names ("cpu", "cpu:N", "cuda:N"): parsed without the backends, so
// that configuration and admin checks need nothing else of the engine.
#include <charconv>

#include "engine/backend/backend_factory.hpp"

namespace llmd::engine {

std::string DeviceName::str() const {
  const char* k = kind == DeviceKind::cpu ? "cpu" : "cuda";
  return index < 0 ? std::string(k) : std::string(k) + ":" + std::to_string(index);
}

Result<DeviceName> parse_device_name(std::string_view name) {
  DeviceName d;
  std::string_view rest;
  if (name.starts_with("cpu")) {
    d.kind = DeviceKind::cpu;
    rest = name.substr(3);
  } else if (name.starts_with("cuda")) {
    d.kind = DeviceKind::cuda;
    rest = name.substr(4);
  } else {
    return Error(ErrorCode::invalid_argument, "unknown device '" + std::string(name) + "' (cpu, cpu:N, cuda:N)");
  }
  if (rest.empty()) return d;
  int v = -1;
  auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), v);
  if (rest[0] != ':' || rest.size() < 2 || ec != std::errc() || end != rest.data() + rest.size() || v < 0 || v > 255) {
    return Error(ErrorCode::invalid_argument, "bad device '" + std::string(name) + "' (cpu, cpu:N, cuda:N)");
  }
  d.index = v;
  return d;
}

}  // namespace llmd::engine
