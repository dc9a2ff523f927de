#include "auth/auth_service.hpp"

#include <sys/stat.h>

#include "base/log.hpp"
#include "storage/integrity.hpp"
#include "storage/migrations.hpp"

namespace llmd::auth {
namespace {

Status recover_ledger(storage::Database& db, int64_t now_ms, storage::RecoveryReport* report) {
  auto closed = storage::close_interrupted_usage(db, now_ms);
  if (!closed) return closed.take_error();
  *report = *closed;
  if (report->rows_closed > 0) {
    log::noticef("ledger: closed %lld usage rows left open by an earlier run as interrupted (%lld reserved tokens released)",
                 static_cast<long long>(report->rows_closed), static_cast<long long>(report->tokens_released));
  }
  auto check = storage::check_ledger(db);
  if (!check) return check.take_error();
  if (!check->consistent()) {
    for (size_t i = 0; i < check->problems.size() && i < 10; ++i) {
      log::warnf("ledger: %s", check->problems[i].c_str());
    }
    log::warnf("ledger: budget counters disagreed with the usage rows; rebuilding them from the rows");
    if (auto r = storage::rebuild_budget_counters(db); !r) return r;
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<AuthService>> AuthService::open(const AuthServiceOptions& options, const Clock& clock) {
  if (auto r = storage::ensure_private_dir(options.state_dir); !r) return r.take_error();
  std::unique_ptr<AuthService> svc(new AuthService());
  if (options.recover) {
    auto lock = storage::InstanceLock::acquire(options.state_dir);
    if (!lock) return lock.take_error();
    svc->lock_.emplace(std::move(*lock));
  }
  svc->database_path_ = storage::database_path(options.state_dir);

  auto ledger_db = storage::open_database(svc->database_path_, options.database);
  if (!ledger_db) return ledger_db.take_error();
  ::chmod(svc->database_path_.c_str(), 0600);
  if (options.recover) {
    // Once per start, before anything relies on the file.
    if (auto r = storage::check_integrity(**ledger_db); !r) return r.take_error();
    if (auto r = recover_ledger(**ledger_db, clock.wall_ms(), &svc->recovery_); !r) return r.take_error();
  }
  auto admin_db = storage::open_database(svc->database_path_, options.database);
  if (!admin_db) return admin_db.take_error();
  auto reader_db = storage::open_database(svc->database_path_, options.database);
  if (!reader_db) return reader_db.take_error();

  svc->ledger_worker_ = std::make_shared<storage::DbWorker>(std::move(*ledger_db), "llmd-ledger");
  svc->admin_worker_ = std::make_shared<storage::DbWorker>(std::move(*admin_db), "llmd-admin-db");
  svc->authenticator_ =
      std::make_unique<Authenticator>(std::move(*reader_db), svc->ledger_worker_, clock, options.authenticator);
  svc->admissions_ = std::make_unique<AdmissionControl>(svc->ledger_worker_, clock, options.admission);
  Authenticator* authn = svc->authenticator_.get();
  svc->admin_ = std::make_unique<AdminService>(clock, [authn](const std::optional<std::string>& key_id) {
    if (key_id) authn->forget(*key_id);
    else authn->forget_all();
  });
  return svc;
}

AuthService::~AuthService() { stop(); }

void AuthService::stop() {
  if (admin_worker_) admin_worker_->stop();
  if (admissions_) admissions_->retry_unsettled();  // a last try for settlements kept while the ledger failed
  if (ledger_worker_) ledger_worker_->stop();
  if (admissions_ && admissions_->unsettled() > 0 && !unsettled_reported_) {
    unsettled_reported_ = true;
    log::errorf("ledger: %zu settlement(s) could not be written; the next start closes their rows as interrupted",
                admissions_->unsettled());
  }
}

}  // namespace llmd::auth
