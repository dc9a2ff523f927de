// `llmd bootstrap-admin`: the first admin key, made on the host itself (whoever
// can read the config and write the state directory is trusted), printed once on
// stdout. Refuses when an active admin key exists unless --force.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "daemon/app/app.hpp"
#include "storage/key_store.hpp"

namespace llmd::daemon {

namespace {

constexpr const char* kDefaultConfig = "/etc/llmd/llmd.toml";

// Exit code when an admin key already exists (not an error for scripts).
constexpr int kExitAlreadyBootstrapped = 3;

std::string local_actor() {
  const struct passwd* pw = ::getpwuid(::geteuid());
  return std::string("local:") + (pw && pw->pw_name ? pw->pw_name : std::to_string(::geteuid()));
}

void usage() {
  std::fprintf(stderr,
               "usage: llmd bootstrap-admin [--config FILE] [--team NAME] [--name NAME] [--force]\n"
               "  creates team NAME (default 'admin') if missing and an admin key in it, and prints\n"
               "  the key once on stdout. Exits %d without a new key when an active admin key exists\n"
               "  (unless --force).\n",
               kExitAlreadyBootstrapped);
}

}  // namespace

int bootstrap_admin(int argc, char** argv) {
  std::string config = kDefaultConfig;
  std::string team = "admin";
  std::string name = "bootstrap-admin";
  bool force = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--config" || a == "-c") ok = value(&config);
    else if (a.rfind("--config=", 0) == 0) config = std::string(a.substr(9));
    else if (a == "--team") ok = value(&team);
    else if (a == "--name") ok = value(&name);
    else if (a == "--force") force = true;
    else if (a == "--help" || a == "-h") {
      usage();
      return kExitOk;
    } else ok = false;
    if (!ok) {
      std::fprintf(stderr, "llmd bootstrap-admin: unexpected argument '%s'\n", argv[i]);
      usage();
      return kExitUsage;
    }
  }

  auto cfg = config::load_file(config);
  if (!cfg) {
    std::fprintf(stderr, "llmd: invalid configuration:\n%s\n", cfg.error().message.c_str());
    return kExitConfig;
  }
  // No recovery and no instance lock: a running server may share the ledger.
  auto svc = open_auth(*cfg, false);
  if (!svc) {
    std::fprintf(stderr, "llmd bootstrap-admin: %s\n", svc.error().message.c_str());
    return kExitFailure;
  }
  auth::AuthService& auth = **svc;
  const std::string actor = local_actor();
  auto issued = auth.call_admin([&](storage::Database& db) -> Result<auth::IssuedKey> {
    auto existing = storage::count_active_admin_keys(db, auth.admin().now_ms());
    if (!existing) return existing.take_error();
    if (*existing > 0 && !force) return Error(ErrorCode::already_bootstrapped, "");
    auto t = storage::find_team(db, team);
    if (!t) return t.take_error();
    if (!*t) {
      auto made = auth.admin().create_team(db, actor, team, storage::TeamLimits{});
      if (!made) return made.take_error();
    }
    auth::KeySpec spec;
    spec.team = team;
    spec.name = name;
    spec.role = auth::Role::admin;
    return auth.admin().create_key(db, actor, spec);
  });
  if (!issued) {
    if (issued.error().code == ErrorCode::already_bootstrapped) {
      std::fprintf(stderr,
                   "llmd bootstrap-admin: an active admin key already exists; create more with "
                   "'llmctl keys create --role admin' (or pass --force)\n");
      return kExitAlreadyBootstrapped;
    }
    std::fprintf(stderr, "llmd bootstrap-admin: %s\n", issued.error().message.c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "created admin key %s in team '%s'; it is shown only this once:\n",
               issued->record.key_id.c_str(), team.c_str());
  std::printf("%s\n", issued->key.c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace llmd::daemon
