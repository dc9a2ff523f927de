// State shared by AdmissionControl and the Admissions it hands out, kept alive by
// whichever of them lives longest.
#pragma once

#include <memory>

#include "auth/clock.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/settlement_retry.hpp"
#include "storage/db_worker.hpp"

namespace llmd::auth::detail {

struct AdmissionShared {
  AdmissionShared(std::shared_ptr<storage::DbWorker> w, const Clock& c) : ledger(std::move(w)), clock(c), limiter(c) {}

  std::shared_ptr<storage::DbWorker> ledger;
  const Clock& clock;
  RateLimiter limiter;
  std::shared_ptr<SettlementRetry> unsettled = std::make_shared<SettlementRetry>();
  int64_t checkpoint_tokens = 0;  // AdmissionOptions::progress_checkpoint_tokens
};

}  // namespace llmd::auth::detail
