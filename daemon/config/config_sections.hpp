// Parsers of the config file's sections, one function per table; the loader
// calls them in dependency order ([paths] before [[models]]). A new section
// is one struct in config.hpp, one function here and one line in the loader's
// table. Internal to config/.
#pragma once

#include "daemon/config/config.hpp"
#include "daemon/config/config_reader.hpp"

namespace llmd::config::detail {

void parse_server(Section& s, Config& c);
void parse_tls(Section& s, Config& c);
void parse_limits(Section& s, Config& c);
void parse_log(Section& s, Config& c);
void parse_paths(Section& s, Config& c);
void parse_api(Section& s, Config& c);
void parse_metrics(Section& s, Config& c);
void parse_devices(Section& s, Config& c);
void parse_model_manager(Section& s, Config& c);
// One [[models]] entry.
void parse_model(Section& s, Config& c);
// Checks between models (unique names and aliases); header_lines[i] is the
// line of the i-th [[models]] header.
void check_models(Diagnostics& d, const Config& c, const std::vector<std::uint32_t>& header_lines);

}  // namespace llmd::config::detail
