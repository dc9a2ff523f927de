// Admission: an admitted request's claim on its team's limits and budgets, from
// admission to settlement.
//
// It holds a concurrency slot, the TPM tokens taken for prompt + max_tokens, and
// an 'open' usage row whose reservation counts against the daily and monthly
// budgets. finish() settles it: the real counts are charged, the unused
// reservation and tokens are returned, the slot is freed. An Admission destroyed
// without finish() (a dropped connection, an exception, an early return) settles
// as `cancelled`, charging the prompt and the completion tokens reported through
// record_progress(). Settling never blocks: the ledger write is posted to the
// ledger's DbWorker. Progress is also written to the open row every
// AdmissionOptions::progress_checkpoint_tokens tokens, so a crash (after which
// start-up recovery charges what the row recorded) loses at most that many
// tokens of billing per request.
//
// Move-only. record_progress() and finish() may be called from different threads
// (the engine's and the connection's); the first finish() wins, later ones are
// ignored. Moving or destroying must not race with them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "auth/principal.hpp"
#include "storage/usage_ledger.hpp"

namespace llmd::auth {

namespace detail {
struct AdmissionShared;
}

struct FinishedUsage {
  storage::UsageStatus status = storage::UsageStatus::ok;  // ok, error or cancelled
  std::optional<int64_t> prompt_tokens;  // when the real count differs from the admitted one
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;             // prompt tokens served from the prefix cache
  std::optional<int64_t> queue_wait_ms;
};

class Admission {
 public:
  Admission() = default;
  Admission(std::shared_ptr<detail::AdmissionShared> shared, std::shared_ptr<const Principal> principal,
            int64_t usage_id, int64_t prompt_tokens, int64_t reserved_tokens);
  ~Admission();
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Admitted and not yet finished.
  bool valid() const { return shared_ != nullptr && !finished_.load(); }
  explicit operator bool() const { return valid(); }

  const Principal& principal() const { return *principal_; }
  int64_t team_id() const { return principal_->team_id; }
  double weight() const { return principal_->weight; }
  int64_t usage_id() const { return usage_id_; }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t reserved_tokens() const { return reserved_tokens_; }

  // Completion tokens produced so far; charged if the request ends without
  // finish(), and checkpointed to the ledger (a posted write, never a wait).
  void record_progress(int64_t completion_tokens);

  // Settles the request (once; later calls are ignored).
  void finish(const FinishedUsage& usage);

 private:
  std::shared_ptr<detail::AdmissionShared> shared_;
  std::shared_ptr<const Principal> principal_;
  int64_t usage_id_ = 0;
  int64_t prompt_tokens_ = 0;
  int64_t reserved_tokens_ = 0;
  std::atomic<int64_t> progress_{0};
  std::atomic<int64_t> checkpointed_{0};  // progress last posted to the ledger
  std::atomic<bool> finished_{false};
};

}  // namespace llmd::auth
