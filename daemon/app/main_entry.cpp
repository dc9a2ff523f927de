#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/app/app.hpp"
#include "base/log.hpp"
#include "engine/tools/cli.hpp"

#ifndef LLMD_VERSION
#define LLMD_VERSION "dev"
#endif

namespace llmd::daemon {

namespace {

constexpr const char* kDefaultConfig = "/etc/llmd/llmd.toml";

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: llmd [serve] [--config FILE]     run the server (default config %s)\n"
               "       llmd check-config [--config FILE] validate a config file and its TLS files\n"
               "       llmd bootstrap-admin [--config FILE] [--team NAME] [--name NAME] [--force]\n"
               "                                         create the first admin key and print it once\n"
               "       llmd COMMAND [ARGS]               engine commands:\n",
               kDefaultConfig);
  for (const auto& c : cli::engine_commands()) {
    std::fprintf(out, "         %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out, "       llmd --help | --version\n");
}

// Parses "[--config FILE | --config=FILE | -c FILE]" after the subcommand.
bool parse_config_flag(int argc, char** argv, int first, std::string* config) {
  for (int i = first; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) {
      *config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      *config = std::string(a.substr(9));
    } else {
      std::fprintf(stderr, "llmd: unexpected argument '%s'\n", argv[i]);
      return false;
    }
  }
  if (config->empty()) {
    std::fprintf(stderr, "llmd: --config needs a file\n");
    return false;
  }
  return true;
}

}  // namespace

int main_entry(int argc, char** argv, const AppHooks& hooks) {
  std::string_view cmd = argc >= 2 ? argv[1] : "serve";
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(stdout);
    return kExitOk;
  }
  if (cmd == "--version") {
    std::printf("llmd %s\n", LLMD_VERSION);
    return kExitOk;
  }

  if (cmd == "bootstrap-admin") return bootstrap_admin(argc - 1, argv + 1);

  std::string config = kDefaultConfig;
  bool is_serve = cmd == "serve" || cmd.rfind("-", 0) == 0;  // "llmd --config F" means serve
  if (is_serve || cmd == "check-config") {
    int first = (argc >= 2 && (cmd == "serve" || cmd == "check-config")) ? 2 : 1;
    if (!parse_config_flag(argc, argv, first, &config)) {
      usage(stderr);
      return kExitUsage;
    }
    if (!is_serve) return check_config(config, hooks);
    auto cfg = config::load_file(config);
    if (!cfg) {
      // One error line per problem, so that journald records each at error level.
      log::errorf("invalid configuration, not starting:");
      const std::string& text = cfg.error().message;
      for (size_t start = 0; start < text.size();) {
        size_t eol = text.find('\n', start);
        if (eol == std::string::npos) eol = text.size();
        log::errorf("%s", text.substr(start, eol - start).c_str());
        start = eol + 1;
      }
      return kExitConfig;
    }
    return serve(*cfg, hooks);
  }
  return cli::run_engine_command(argc - 1, argv + 1);
}

int check_config(const std::filesystem::path& file, const AppHooks& hooks) {
  auto cfg = config::load_file(file);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
    return kExitFailure;
  }
  auto server = build_server(*cfg, hooks);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return kExitFailure;
  }
  if (Status st = (*server)->apply_route_limits(); !st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return kExitFailure;
  }
  std::printf("%s: ok\n", file.c_str());
  return kExitOk;
}

}  // namespace llmd::daemon
