// The daemon's subcommands: `serve` (default) and `check-config`; every other
// subcommand goes to the engine's command table (llmd gguf FILE, ...).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "daemon/config/config.hpp"
#include "daemon/http/server.hpp"
#include "engine/core/result.hpp"

namespace llmd::daemon {

// Extension points of the serve path. The production binary passes none; the
// test daemon adds debug routes through install_routes.
struct AppHooks {
  std::function<Status(http::Server&, const config::Config&)> install_routes;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // runtime failure (cannot listen, ...)
inline constexpr int kExitUsage = 2;     // bad command line
inline constexpr int kExitConfig = 78;   // invalid configuration (EX_CONFIG); systemd does not restart on it

// argv[0] is the program name.
int main_entry(int argc, char** argv, const AppHooks& hooks = {});

// The server with every route registered (built-ins, API, hooks), not started.
Result<std::unique_ptr<http::Server>> build_server(const config::Config& cfg, const AppHooks& hooks);

// Runs until SIGTERM/SIGINT, then drains. Returns the process exit code.
int serve(const config::Config& cfg, const AppHooks& hooks);

// Loads and checks the config (and the TLS files, and the routes it names).
int check_config(const std::filesystem::path& file, const AppHooks& hooks);

}  // namespace llmd::daemon
