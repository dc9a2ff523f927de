// AdmissionControl: decides whether an authenticated request may run now.
//
//   1. model allowed for the team?                                → 403 model_not_allowed
//   2. RPM / TPM buckets (key and team) and the team's concurrency
//      cap, in memory, all or nothing                              → 429 rate_limit_exceeded
//   3. daily and monthly token budgets: one IMMEDIATE transaction
//      on the ledger's DbWorker reserves prompt + max_tokens and
//      writes the 'open' usage row                                 → 429 insufficient_quota
//
// A request refused in step 1 or 2 never reaches SQLite. When the ledger cannot
// be written (disk full, read-only, I/O error) the request is refused with 503
// storage_unavailable: nothing is served unbilled. The callback runs inline
// when refused before step 3 and on the ledger's DbWorker thread otherwise: it
// must only hand the result to the caller's executor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/admission.hpp"
#include "auth/clock.hpp"
#include "auth/denial.hpp"
#include "auth/principal.hpp"
#include "auth/rate_limit_info.hpp"
#include "storage/db_worker.hpp"

namespace llmd::auth {

namespace detail {
struct AdmissionShared;
}

struct AdmissionRequest {
  std::string model;
  int64_t prompt_tokens = 0;
  int64_t max_tokens = 0;   // the most the request may generate (after clamping to the context)
  std::string request_id;   // x-request-id, stored on the usage row
};

struct AdmissionResult {
  Admission admission;            // valid() when admitted
  std::optional<Denial> denial;   // set when refused
  RateLimitInfo limits;           // x-ratelimit-* for the response either way
  bool admitted() const { return admission.valid(); }
};

struct AdmissionOptions {
  size_t max_pending_ledger_tasks = 10000;  // beyond this: 503 server_busy
  int64_t max_request_tokens = int64_t{1} << 40;
  // Completion tokens between two progress writes to a running request's usage
  // row (what a crash can leave unbilled per request); 0 = none.
  int64_t progress_checkpoint_tokens = 64;
};

class AdmissionControl {
 public:
  using Callback = std::function<void(AdmissionResult)>;

  AdmissionControl(std::shared_ptr<storage::DbWorker> ledger, const Clock& clock,
                   const AdmissionOptions& options = {});
  ~AdmissionControl();

  // Calls `done` exactly once: at once when refused in memory (rate limits, bad
  // counts), otherwise on the ledger's thread once the reservation (or the
  // refusal's read) has gone through the ledger; an admission is reported only
  // after its usage row is committed.
  void admit(std::shared_ptr<const Principal> principal, AdmissionRequest request, Callback done);

  // The checks that need neither the prompt's tokens nor SQLite (model
  // allowed, RPM buckets, the team's concurrency cap), taking nothing: a
  // refusal here spares tokenizing a prompt that admit() would refuse.
  // The denial, or nullopt when admit() may still admit.
  std::optional<Denial> precheck(const Principal& principal, const std::string& model);

  // Waits for the answer: for tests and tools, never on an I/O thread.
  AdmissionResult admit_blocking(std::shared_ptr<const Principal> principal, AdmissionRequest request);

  // Requests of the team in flight right now.
  int64_t in_flight(int64_t team_id) const;

  // Settlements the ledger could not write, kept to be written again (see
  // settlement_retry.hpp); each reservation and settlement tries them first.
  size_t unsettled() const;
  // Queues a ledger task that tries them now (at stop, for one).
  void retry_unsettled();

 private:
  std::shared_ptr<detail::AdmissionShared> shared_;
  AdmissionOptions options_;
};

}  // namespace llmd::auth
