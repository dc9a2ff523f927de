// `systemctl reload llmd` (SIGHUP): the config file is read again and what
// can change while llmd serves is applied — the TLS certificate and key (new
// connections get them; open connections and streams go on), [limits] (new
// connections), [log] level and access_log, and [[models]] through the model
// manager (added: loaded; removed: unloaded; changed: reloaded). The rest
// (listen address, state directory, ...) is logged as needing a restart and
// keeps its running value. A file that does not load, a certificate that
// does not load or a [[models]] change the manager cannot make now refuses
// the whole reload with one log line; the running configuration stays.
#pragma once

#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/http/server.hpp"
#include "base/result.hpp"
#include "models/model_manager.hpp"

namespace llmd::daemon {

// Reloads `running.file`. Returns the configuration now in force (the new
// file's, with the running values of what needs a restart), or the error
// that refused it (logged already).
Result<config::Config> reload_config(const config::Config& running, http::Server& server,
                                     models::ModelManager& models);

// What differs between `a` and `b` that only a restart applies, one phrase
// each ("[server] address or port").
std::vector<std::string> restart_only_changes(const config::Config& a, const config::Config& b);

}  // namespace llmd::daemon
