#include "auth/admission.hpp"

#include <algorithm>
#include <utility>

#include "auth/admission_shared.hpp"
#include "base/log.hpp"

namespace llmd::auth {

Admission::Admission(std::shared_ptr<detail::AdmissionShared> shared, std::shared_ptr<const Principal> principal,
                     int64_t usage_id, int64_t prompt_tokens, int64_t reserved_tokens)
    : shared_(std::move(shared)),
      principal_(std::move(principal)),
      usage_id_(usage_id),
      prompt_tokens_(prompt_tokens),
      reserved_tokens_(reserved_tokens) {}

Admission::~Admission() {
  if (valid()) {
    FinishedUsage usage;
    usage.status = storage::UsageStatus::cancelled;
    usage.completion_tokens = progress_.load(std::memory_order_relaxed);
    finish(usage);
  }
}

Admission::Admission(Admission&& other) noexcept
    : shared_(std::move(other.shared_)),
      principal_(std::move(other.principal_)),
      usage_id_(other.usage_id_),
      prompt_tokens_(other.prompt_tokens_),
      reserved_tokens_(other.reserved_tokens_),
      progress_(other.progress_.load()),
      checkpointed_(other.checkpointed_.load()),
      finished_(other.finished_.load()) {}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    Admission old(std::move(*this));  // settles what this one held
    shared_ = std::move(other.shared_);
    principal_ = std::move(other.principal_);
    usage_id_ = other.usage_id_;
    prompt_tokens_ = other.prompt_tokens_;
    reserved_tokens_ = other.reserved_tokens_;
    progress_ = other.progress_.load();
    checkpointed_ = other.checkpointed_.load();
    finished_ = other.finished_.load();
  }
  return *this;
}

void Admission::record_progress(int64_t completion_tokens) {
  progress_.store(completion_tokens, std::memory_order_relaxed);
  if (shared_ == nullptr || finished_.load() || shared_->checkpoint_tokens <= 0) return;
  int64_t last = checkpointed_.load(std::memory_order_relaxed);
  if (completion_tokens - last < shared_->checkpoint_tokens) return;
  if (!checkpointed_.compare_exchange_strong(last, completion_tokens)) return;  // another thread posts it
  shared_->ledger->post_grouped([id = usage_id_, completion_tokens](storage::Database& db) {
    if (auto st = storage::record_usage_progress(db, id, completion_tokens); !st) {
      log::debugf("auth: cannot checkpoint usage row %lld: %s", static_cast<long long>(id), st.error().message.c_str());
    }
  });
}

void Admission::finish(const FinishedUsage& usage) {
  if (shared_ == nullptr || finished_.exchange(true)) return;
  std::shared_ptr<detail::AdmissionShared> shared = shared_;

  storage::Settlement s;
  s.usage_id = usage_id_;
  s.status = usage.status == storage::UsageStatus::open ? storage::UsageStatus::error : usage.status;
  s.prompt_tokens = std::max<int64_t>(0, usage.prompt_tokens.value_or(prompt_tokens_));
  s.completion_tokens = std::max<int64_t>(0, usage.completion_tokens);
  s.cached_tokens = std::clamp<int64_t>(usage.cached_tokens, 0, s.prompt_tokens);
  s.queue_wait_ms = usage.queue_wait_ms;
  s.now_ms = shared->clock.wall_ms();

  // Limits first and in memory: the slot and unused tokens are free at once.
  int64_t used = s.prompt_tokens + s.completion_tokens;
  shared->limiter.release(principal_->key_row, principal_->team_id, reserved_tokens_ - used, false);

  // No callback: the settlement may share a commit with other ledger tasks.
  shared->ledger->post_grouped([s, unsettled = shared->unsettled](storage::Database& db) {
    unsettled->retry(db);
    auto r = storage::settle_usage(db, s);
    if (!r) {
      // Kept and written again once the ledger works (the row stays open,
      // its reservation counted, meanwhile).
      log::errorf("auth: cannot settle usage row %lld now, will retry: %s", static_cast<long long>(s.usage_id),
                  r.error().message.c_str());
      unsettled->keep(s);
    }
  });
}

}  // namespace llmd::auth
