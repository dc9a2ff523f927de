// [api]: settings of the OpenAI API.
#include "daemon/config/config_sections.hpp"

namespace llmd::config::detail {

void parse_api(Section& s, Config& c) { s.get_seconds("stream_interval_s", 0.0, 1.0, c.api.stream_interval); }

}  // namespace llmd::config::detail
