#include "daemon/app/reload.hpp"

#include "daemon/app/model_setup.hpp"
#include "base/log.hpp"

namespace llmd::daemon {

namespace {

// Config errors hold one "file:line: message" per line; the log gets one line.
std::string one_line(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "; ";
    } else {
      out += c;
    }
  }
  return out;
}

Error refuse(Error e) {
  log::errorf("reload refused, the running configuration stays: %s", one_line(e.message).c_str());
  return e;
}

std::string join(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "'" : ", '") + id + "'";
  return out;
}

// `next` with the running values of everything that needs a restart.
config::Config keep_restart_only(const config::Config& running, config::Config next) {
  next.server.address = running.server.address;
  next.server.port = running.server.port;
  next.server.io_threads = running.server.io_threads;
  next.server.unix_socket = running.server.unix_socket;
  next.server.unix_socket_mode = running.server.unix_socket_mode;
  next.server.drain_timeout = running.server.drain_timeout;
  next.limits.route_body_bytes = running.limits.route_body_bytes;
  next.paths = running.paths;
  next.api = running.api;
  next.metrics = running.metrics;
  next.devices = running.devices;
  next.model_manager = running.model_manager;
  return next;
}

}  // namespace

std::vector<std::string> restart_only_changes(const config::Config& a, const config::Config& b) {
  std::vector<std::string> out;
  auto note = [&out](bool differs, const char* what) {
    if (differs) out.emplace_back(what);
  };
  note(a.server.address != b.server.address || a.server.port != b.server.port, "[server] address or port");
  note(a.server.io_threads != b.server.io_threads, "[server] io_threads");
  note(a.server.unix_socket != b.server.unix_socket || a.server.unix_socket_mode != b.server.unix_socket_mode,
       "[server] unix_socket or unix_socket_mode");
  note(a.server.drain_timeout != b.server.drain_timeout, "[server] drain_timeout_s");
  note(a.limits.route_body_bytes != b.limits.route_body_bytes, "[limits] route_body_bytes");
  note(!(a.paths == b.paths), "[paths]");
  note(!(a.api == b.api), "[api]");
  note(!(a.metrics == b.metrics), "[metrics]");
  note(!(a.devices == b.devices), "[devices]");
  note(!(a.model_manager == b.model_manager), "[model_manager]");
  return out;
}

Result<config::Config> reload_config(const config::Config& running, http::Server& server,
                                     models::ModelManager& models) {
  log::noticef("reloading %s", running.file.c_str());
  auto next = config::load_file(running.file);
  if (!next) return refuse(next.take_error());
  // The running paths anchor the models: [paths] model_dirs needs a restart.
  auto commit = server.prepare_reload(*next);
  if (!commit) return refuse(commit.take_error());
  auto changes = models.apply_config_models(specs_from_config(*next));
  if (!changes) return refuse(changes.take_error());
  // Nothing can fail from here on.
  (*commit)();
  log::set_level(next->log.level);
  for (const auto& what : restart_only_changes(running, *next)) {
    log::warnf("reload: %s changed; that needs a restart (the running value stays)", what.c_str());
  }
  if (!changes->added.empty()) log::noticef("reload: models added: %s", join(changes->added).c_str());
  if (!changes->removed.empty()) log::noticef("reload: models removed: %s", join(changes->removed).c_str());
  if (!changes->changed.empty()) log::noticef("reload: models changed (reloading): %s", join(changes->changed).c_str());
  if (!changes->updated.empty()) log::noticef("reload: models updated in place: %s", join(changes->updated).c_str());
  log::noticef("reloaded %s: TLS certificate and key, [limits], [log] and [[models]] applied", running.file.c_str());
  return keep_restart_only(running, std::move(*next));
}

}  // namespace llmd::daemon
