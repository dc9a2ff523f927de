// AuthService: everything auth and the ledger need at run time, opened from the
// state directory.
//
// Threads and connections (the hot path never waits on a SQLite write):
//   - in memory, on the caller's thread: header parsing, key format and checksum,
//     cached verification (hash + CRYPTO_memcmp), rate-limit buckets, the
//     concurrency cap;
//   - a read connection, on the caller's thread under a mutex: the key lookup on
//     a cache miss (one primary-key read; in WAL mode a reader never waits for a
//     writer), at most once per key id per cache TTL;
//   - the "ledger" DbWorker (one thread, one connection, the only writer on the
//     request path): budget reservations and settlements, one short IMMEDIATE
//     transaction each, in arrival order, and last-use stamps;
//   - the "admin" DbWorker (its own thread and connection): admin changes,
//     usage reports and the audit log, so a long report never delays admissions
//     (WAL lets it read while the ledger writes).
//
// Opening with `recover` (what `llmd serve` does) takes the state directory's
// instance lock, closes usage rows left open by a crash as `interrupted`,
// releasing their reservations, and checks the budget counters against the
// ledger, rebuilding them if they disagree.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/admin_service.hpp"
#include "auth/admission_control.hpp"
#include "auth/authenticator.hpp"
#include "auth/clock.hpp"
#include "base/result.hpp"
#include "storage/database.hpp"
#include "storage/db_worker.hpp"
#include "storage/state_dir.hpp"
#include "storage/usage_ledger.hpp"

namespace llmd::auth {

struct AuthServiceOptions {
  std::string state_dir;              // created 0700; the database is <state_dir>/llmd.db
  storage::DatabaseOptions database;
  AuthenticatorOptions authenticator;
  AdmissionOptions admission;
  bool recover = true;                // lock the state directory and close interrupted rows
};

class AuthService {
 public:
  static Result<std::unique_ptr<AuthService>> open(const AuthServiceOptions& options,
                                                   const Clock& clock = system_clock());
  ~AuthService();
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  Authenticator& authenticator() { return *authenticator_; }
  AdmissionControl& admissions() { return *admissions_; }
  AdminService& admin() { return *admin_; }

  // Runs `task` on the admin connection's thread.
  void post_admin(std::function<void(storage::Database&)> task) { admin_worker_->post(std::move(task)); }
  // Runs `f(Database&)` on the admin thread and waits (tests and tools only).
  template <typename F>
  auto call_admin(F f) {
    return admin_worker_->call(std::move(f));
  }
  // Runs `f(Database&)` on the ledger thread and waits (tests and tools only).
  template <typename F>
  auto call_ledger(F f) {
    return ledger_worker_->call(std::move(f));
  }

  // What start-up recovery found (zero rows when opened without `recover`).
  const storage::RecoveryReport& recovery() const { return recovery_; }
  const std::string& database_path() const { return database_path_; }

  // Finishes queued ledger and admin work and stops both threads. Later ledger
  // work (late settlements) runs inline. Idempotent; the destructor calls it.
  void stop();

 private:
  AuthService() = default;

  std::optional<storage::InstanceLock> lock_;
  std::string database_path_;
  storage::RecoveryReport recovery_;
  std::shared_ptr<storage::DbWorker> ledger_worker_;
  std::shared_ptr<storage::DbWorker> admin_worker_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<AdmissionControl> admissions_;
  std::unique_ptr<AdminService> admin_;
  bool unsettled_reported_ = false;
};

}  // namespace llmd::auth
