// The daemon's subcommands: `serve` (default) and `check-config`; every other
// subcommand goes to the engine's command table (llmd gguf FILE, ...).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "auth/auth_service.hpp"
#include "daemon/config/config.hpp"
#include "daemon/http/server.hpp"
#include "daemon/metrics/metrics.hpp"
#include "base/result.hpp"
#include "models/model_manager.hpp"

namespace llmd::daemon {

// What the API routes run on. Null members mean "not opened": check-config
// registers the routes only to check them.
struct Services {
  auth::AuthService* auth = nullptr;  // keys, limits, budgets, usage ledger, admin operations
  models::ModelManager* models = nullptr;  // the catalog and the served models
  metrics::Metrics* metrics = nullptr;     // requests and generations are recorded here; may be null
};

// Extension points of the serve path. The production binary passes none; the
// test daemons add debug routes through install_routes (or
// install_service_routes when they need the services).
struct AppHooks {
  std::function<Status(http::Server&, const config::Config&)> install_routes;
  std::function<Status(http::Server&, const config::Config&, const Services&)> install_service_routes;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // runtime failure (cannot listen, ...)
inline constexpr int kExitUsage = 2;     // bad command line
inline constexpr int kExitConfig = 78;   // invalid configuration (EX_CONFIG); systemd does not restart on it

// argv[0] is the program name.
int main_entry(int argc, char** argv, const AppHooks& hooks = {});

// The server with every route registered (built-ins, API, hooks) and, when
// `services.auth` is set, the authentication hook; not started.
Result<std::unique_ptr<http::Server>> build_server(const config::Config& cfg, const AppHooks& hooks,
                                                   const Services& services = {});

// Opens the ledger in the state directory for serving: takes its lock, closes
// usage rows a crash left open as interrupted.
Result<std::unique_ptr<auth::AuthService>> open_auth(const config::Config& cfg, bool recover);

// `llmd bootstrap-admin --config FILE [--team NAME] [--name NAME] [--force]`:
// creates the first admin key locally and prints it once. argv[0] is the
// subcommand.
int bootstrap_admin(int argc, char** argv);

// Runs until SIGTERM/SIGINT, then drains. Returns the process exit code.
int serve(const config::Config& cfg, const AppHooks& hooks);

// Loads and checks the config (and the TLS files, and the routes it names).
int check_config(const std::filesystem::path& file, const AppHooks& hooks);

}  // namespace llmd::daemon
