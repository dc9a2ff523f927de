// [api]: settings of the OpenAI API; [metrics]: the Prometheus listener.
#include "daemon/config/config_sections.hpp"

namespace llmd::config::detail {

void parse_api(Section& s, Config& c) { s.get_seconds("stream_interval_s", 0.0, 1.0, c.api.stream_interval); }

void parse_metrics(Section& s, Config& c) {
  s.get_bool("enabled", c.metrics.enabled);
  s.get_string("address", c.metrics.address);
  std::uint64_t port = 0;
  if (s.get_uint("port", 0, 65535, port)) c.metrics.port = static_cast<std::uint16_t>(port);
  s.get_path("token_file", c.metrics.token_file);
}

}  // namespace llmd::config::detail
