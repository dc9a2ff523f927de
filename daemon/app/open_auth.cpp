// Opening the ledger (keys, limits, budgets, usage) from the configuration.
#include "daemon/app/app.hpp"

namespace llmd::daemon {

Result<std::unique_ptr<auth::AuthService>> open_auth(const config::Config& cfg, bool recover) {
  auth::AuthServiceOptions o;
  o.state_dir = cfg.paths.state_dir.string();
  o.recover = recover;
  return auth::AuthService::open(o);
}

}  // namespace llmd::daemon
