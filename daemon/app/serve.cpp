// `llmd serve`: start the HTTPS server, tell systemd, feed the watchdog,
// reload the config on SIGHUP, and on SIGTERM/SIGINT drain: stop accepting,
// /readyz 503, let in-flight requests finish up to [server] drain_timeout_s,
// exit 0.
//
// Threads: this (main) thread waits for signals with sigtimedwait(), sends
// WATCHDOG=1 and runs reloads; the server's I/O threads serve connections.
// Signals are blocked before any thread starts, so only this thread ever
// receives them.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include "daemon/access/access.hpp"
#include "daemon/admin/admin_models.hpp"
#include "daemon/admin/admin_routes.hpp"
#include "daemon/app/app.hpp"
#include "daemon/app/model_setup.hpp"
#include "daemon/app/reload.hpp"
#include "daemon/app/watchdog.hpp"
#include "daemon/console/console_routes.hpp"
#include "daemon/metrics/metrics_listener.hpp"
#include "daemon/metrics/state_metrics.hpp"
#include "daemon/models/sqlite_model_store.hpp"
#include "daemon/openai/routes.hpp"
#include "daemon/system/journal.hpp"
#include "daemon/system/listen_fds.hpp"
#include "daemon/system/notify.hpp"
#include "base/log.hpp"

#ifndef LLMD_VERSION
#define LLMD_VERSION "dev"
#endif

namespace llmd::daemon {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Waits up to `timeout` for one of `set`; returns the signal or 0.
int wait_signal(const sigset_t& set, std::chrono::microseconds timeout) {
  if (timeout < 0us) timeout = 0us;
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000000) * 1000);
  int sig = ::sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace

namespace {

// The Prometheus listener of [metrics], with the token read from token_file.
Result<std::unique_ptr<metrics::MetricsListener>> start_metrics_listener(const config::MetricsConfig& c,
                                                                        metrics::Metrics& m) {
  metrics::ListenerOptions o;
  o.address = c.address;
  o.port = c.port;
  if (!c.token_file.empty()) {
    std::ifstream in(c.token_file);
    std::string token;
    if (!in || !std::getline(in, token)) {
      return Error(ErrorCode::config_unreadable, "[metrics] token_file " + c.token_file.string() + " cannot be read");
    }
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) return Error(ErrorCode::invalid_config, "[metrics] token_file " + c.token_file.string() + " is empty");
    o.token = std::move(token);
  }
  auto listener = metrics::MetricsListener::start(o, [&m] { return m.render(); });
  if (!listener) return listener.take_error();
  log::noticef("metrics: http://%s:%u/metrics%s", c.address.c_str(), static_cast<unsigned>((*listener)->port()),
               o.token.empty() ? "" : " (bearer token required)");
  return listener;
}

}  // namespace

Result<std::unique_ptr<http::Server>> build_server(const config::Config& cfg, const AppHooks& hooks,
                                                   const Services& services) {
  auto server = http::Server::create(cfg);
  if (!server) return server;
  if (services.auth) {
    (*server)->set_authenticator(access::make_auth_hook(
        *services.auth, [srv = server->get()](std::function<void()> fn) { srv->offload(std::move(fn)); }));
  }
  if (services.metrics) {
    (*server)->set_request_observer([m = services.metrics](const http::RequestSummary& r) { m->record_request(r); });
  }
  // The OpenAI and admin API routes and the admin console register here.
  if (Status st = admin::install_admin_routes((*server)->router(), services.auth); !st) return st.take_error();
  if (Status st = admin::install_model_routes((*server)->router(), services.models, services.auth); !st) {
    return st.take_error();
  }
  if (Status st = console::install_console_routes((*server)->router()); !st) return st.take_error();
  openai::ApiContext api;
  api.models = services.models;
  api.auth = services.auth;
  api.stream_interval = cfg.api.stream_interval;
  api.metrics = services.metrics;
  api.offload = [srv = server->get()](std::function<void()> fn) { srv->offload(std::move(fn)); };
  if (Status st = openai::install_openai_routes((*server)->router(), api); !st) return st.take_error();
  if (hooks.install_routes) {
    if (Status st = hooks.install_routes(**server, cfg); !st) return st.take_error();
  }
  if (hooks.install_service_routes) {
    if (Status st = hooks.install_service_routes(**server, cfg, services); !st) return st.take_error();
  }
  return server;
}

int serve(const config::Config& cfg, const AppHooks& hooks) {
  log::set_level(cfg.log.level);
  const bool journal = use_journal_when_connected();
  log::noticef("llmd %s starting with %s", LLMD_VERSION, cfg.file.c_str());
  if (journal) log::noticef("logging to the journal (request lines carry MODEL=, TEAM=, REQUEST_ID=)");

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Notifier notifier;
  auto auth = open_auth(cfg, true);
  if (!auth) {
    log::errorf("%s", auth.error().message.c_str());
    notifier.status("failed: " + auth.error().message);
    return kExitFailure;
  }
  Services services;
  services.auth = auth->get();
  auto devices = models::DeviceTable::discover(device_options(cfg));
  if (!devices) {
    log::errorf("%s", devices.error().message.c_str());
    notifier.status("failed: " + devices.error().message);
    return kExitConfig;
  }
  for (const auto& d : devices->devices()) {
    log::noticef("device %s: %s, budget %s", d.id.c_str(), d.name.c_str(),
                 models::format_bytes(d.memory_budget).c_str());
  }
  // The catalog's own connection to the database (WAL: beside the ledger's).
  auto model_db = storage::Database::open((*auth)->database_path());
  if (!model_db) {
    log::errorf("%s", model_db.error().message.c_str());
    notifier.status("failed: " + model_db.error().message);
    return kExitFailure;
  }
  SqliteModelStore store(**model_db);
  // Outlives the server; its schedulers stop before the server goes.
  models::ManagerOptions model_options = manager_options(cfg, &store);
  if (hooks.make_backend) model_options.make_backend = hooks.make_backend;
  // A device that fails for good (a sticky CUDA error) cannot be recovered in
  // this process: drain (the model's requests have ended with 503s, the others
  // finish), settle the ledger and exit non-zero, so that systemd's
  // Restart=on-failure starts a fresh llmd.
  std::atomic<bool> device_failed{false};
  model_options.on_backend_failed = [&device_failed](const std::string& model, const std::string&) {
    if (device_failed.exchange(true)) return;
    log::errorf("model '%s': its device failed; stopping llmd so that it is restarted", model.c_str());
    ::kill(::getpid(), SIGTERM);
  };
  models::ModelManager models(std::move(*devices), std::move(model_options));
  services.models = &models;
  metrics::Metrics metrics;
  metrics.add_collectable(std::make_shared<metrics::StateMetrics>(models));
  services.metrics = &metrics;
  std::unique_ptr<metrics::MetricsListener> metrics_listener;
  if (cfg.metrics.enabled) {
    auto listener = start_metrics_listener(cfg.metrics, metrics);
    if (!listener) {
      log::errorf("%s", listener.error().message.c_str());
      notifier.status("failed: " + listener.error().message);
      return kExitConfig;
    }
    metrics_listener = std::move(*listener);
  }
  auto built = build_server(cfg, hooks, services);
  if (!built) {
    log::errorf("%s", built.error().message.c_str());
    notifier.status("failed: " + built.error().message);
    return kExitConfig;
  }
  http::Server& server = **built;
  auto inherited = inherited_listener();
  if (!inherited) {
    log::errorf("%s", inherited.error().message.c_str());
    notifier.status("failed: " + inherited.error().message);
    return kExitConfig;
  }
  if (*inherited) {
    server.adopt_listener(**inherited);
    log::noticef("socket activation: serving on the listening socket systemd passed");
  }
  if (Status st = server.start(); !st) {
    log::errorf("%s", st.error().message.c_str());
    notifier.status("failed: " + st.error().message);
    return st.error().code == ErrorCode::config_invalid ? kExitConfig : kExitFailure;
  }

  // The configured and stored models load here; requests that arrive
  // meanwhile wait for their model. Ready once every first load has ended
  // (a model that fails is reported and the rest are served).
  notifier.status("loading models");
  if (Status st = models.start(specs_from_config(cfg)); !st) {
    log::errorf("%s", st.error().message.c_str());
    notifier.status("failed: " + st.error().message);
    server.stop();
    models.stop();
    (*auth)->stop();
    return kExitFailure;
  }
  bool reload_pending = false;  // a SIGHUP during start-up: reloaded once ready
  while (!models.wait_idle(std::chrono::seconds(1))) {
    int early = wait_signal(signals, 0us);
    if (early == SIGHUP) reload_pending = true;
    if (early == SIGTERM || early == SIGINT) {
      log::noticef("%s received while loading models: stopping", strsignal(early));
      server.stop();
      models.stop();
      (*auth)->stop();
      return kExitOk;
    }
  }
  for (const auto& m : models.list()) {
    if (m.state == models::ModelState::failed) log::errorf("model '%s' is not served: %s", m.spec.id.c_str(), m.error.c_str());
  }
  server.set_ready(true);
  notifier.ready("serving " + server.url());
  log::noticef("ready: serving %s", server.url().c_str());

  Watchdog watchdog(notifier, server, models, cfg.server.watchdog_step_timeout);
  config::Config running = cfg;
  int sig = 0;
  while (true) {
    watchdog.tick();
    sig = reload_pending ? SIGHUP : wait_signal(signals, watchdog.tick_interval());
    reload_pending = false;
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      notifier.reloading("reloading " + running.file.string());
      auto applied = reload_config(running, server, models);
      if (applied) {
        running = std::move(*applied);
        watchdog.set_step_timeout(running.server.watchdog_step_timeout);
      }
      notifier.ready(applied ? "serving " + server.url() : "serving " + server.url() + "; the last reload was refused");
    }
  }

  log::noticef("%s received: draining (up to %.1f s)", strsignal(sig), cfg.server.drain_timeout.count() / 1000.0);
  notifier.stopping("draining");
  server.begin_drain();
  const auto deadline = Clock::now() + cfg.server.drain_timeout;
  bool drained = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto slice = std::min<std::chrono::milliseconds>(
        left, std::chrono::duration_cast<std::chrono::milliseconds>(watchdog.tick_interval()));
    if (server.wait_idle(std::max(slice, 0ms))) {
      drained = true;
      break;
    }
    if (Clock::now() >= deadline) break;
    watchdog.tick();
    int again = wait_signal(signals, 0us);
    if (again == SIGTERM || again == SIGINT) {
      log::warnf("second %s: stopping without waiting for in-flight requests", strsignal(again));
      break;
    }
  }
  if (!drained) log::warnf("drain incomplete: closing %zu connection(s)", server.connections());
  server.stop();
  models.stop();    // requests still running end; nothing posts to the server after this
  (*auth)->stop();  // settles what the last requests left queued
  if (device_failed) {
    log::errorf("stopped after a device failure");
    notifier.status("failed: a device failed");
    return kExitFailure;
  }
  log::noticef("stopped");
  return kExitOk;
}

}  // namespace llmd::daemon
