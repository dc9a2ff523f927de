#include "auth/admission_control.hpp"

#include <future>
#include <utility>

#include "auth/admission_shared.hpp"
#include "base/log.hpp"
#include "storage/usage_ledger.hpp"

namespace llmd::auth {
namespace {

std::string rate_message(const RateDecision& d, int64_t tokens) {
  const std::string who = d.scope == "key" ? "this API key" : "your team";
  switch (d.verdict) {
    case RateVerdict::requests_exceeded:
      return "Rate limit reached: " + who + " may make " + std::to_string(d.limit) +
             " requests per minute. Retry after the time in Retry-After.";
    case RateVerdict::tokens_exceeded:
      return "Rate limit reached: " + who + " may use " + std::to_string(d.limit) +
             " tokens per minute and this request needs " + std::to_string(tokens) +
             " (prompt + max_tokens). Retry after the time in Retry-After.";
    case RateVerdict::request_too_large:
      return "Request too large: it needs " + std::to_string(tokens) + " tokens (prompt + max_tokens) but " + who +
             " may use only " + std::to_string(d.limit) + " tokens per minute. Lower max_tokens or the prompt.";
    case RateVerdict::concurrency_exceeded:
      return "Too many concurrent requests: your team may run " + std::to_string(d.limit) + " at once.";
    case RateVerdict::allowed: break;
  }
  return "Rate limit reached.";
}

std::string budget_message(const storage::ReserveResult& r, int64_t tokens) {
  bool daily = r.outcome == storage::ReserveOutcome::daily_budget_exhausted;
  const storage::BudgetState& b = daily ? r.day : r.month;
  return std::string("Token budget exhausted: your team's ") + (daily ? "daily" : "monthly") + " budget of " +
         std::to_string(b.budget.value_or(0)) + " tokens for " + b.period + " has " +
         std::to_string(b.remaining().value_or(0)) + " left and this request needs " + std::to_string(tokens) +
         " (prompt + max_tokens).";
}

}  // namespace

AdmissionControl::AdmissionControl(std::shared_ptr<storage::DbWorker> ledger, const Clock& clock,
                                   const AdmissionOptions& options)
    : shared_(std::make_shared<detail::AdmissionShared>(std::move(ledger), clock)), options_(options) {
  shared_->checkpoint_tokens = options.progress_checkpoint_tokens;
}

AdmissionControl::~AdmissionControl() = default;

int64_t AdmissionControl::in_flight(int64_t team_id) const { return shared_->limiter.in_flight(team_id); }

size_t AdmissionControl::unsettled() const { return shared_->unsettled->size(); }

void AdmissionControl::retry_unsettled() {
  if (shared_->unsettled->size() == 0) return;
  shared_->ledger->post_grouped([unsettled = shared_->unsettled](storage::Database& db) { unsettled->retry(db); });
}

std::optional<Denial> AdmissionControl::precheck(const Principal& principal, const std::string& model) {
  if (!principal.may_use_model(model)) return model_not_allowed_denial(model, principal.team);
  RateLimits limits{principal.key_rpm, principal.key_tpm, principal.team_rpm, principal.team_tpm,
                    principal.team_max_concurrent};
  RateDecision decision = shared_->limiter.peek(principal.key_row, principal.team_id, limits);
  if (decision.allowed()) return std::nullopt;
  return rate_limited_denial(rate_message(decision, 0), decision.retry_after_ms, decision.info);
}

void AdmissionControl::admit(std::shared_ptr<const Principal> principal, AdmissionRequest req, Callback done) {
  AdmissionResult result;
  if (!principal) {
    result.denial = missing_key_denial();
    done(std::move(result));
    return;
  }
  if (req.prompt_tokens < 0 || req.max_tokens < 0 || req.prompt_tokens > options_.max_request_tokens ||
      req.max_tokens > options_.max_request_tokens) {
    result.denial = bad_request_denial("prompt and max_tokens must be non-negative and of sensible size");
    done(std::move(result));
    return;
  }
  if (!principal->may_use_model(req.model)) {
    result.denial = model_not_allowed_denial(req.model, principal->team);
    done(std::move(result));
    return;
  }
  if (shared_->ledger->pending() >= options_.max_pending_ledger_tasks) {
    log::warnf("auth: ledger queue is full (%zu tasks); refusing requests", shared_->ledger->pending());
    result.denial = busy_denial();
    done(std::move(result));
    return;
  }

  const int64_t tokens = req.prompt_tokens + req.max_tokens;
  RateLimits limits{principal->key_rpm, principal->key_tpm, principal->team_rpm, principal->team_tpm,
                    principal->team_max_concurrent};
  RateDecision decision = shared_->limiter.acquire(principal->key_row, principal->team_id, limits, tokens);
  result.limits = decision.info;
  if (!decision.allowed()) {
    Denial d = rate_limited_denial(rate_message(decision, tokens), decision.retry_after_ms, decision.info);
    if (decision.verdict == RateVerdict::request_too_large) d.retry_after_s.reset();
    result.denial = std::move(d);
    done(std::move(result));
    return;
  }

  storage::ReserveRequest reserve;
  reserve.team_id = principal->team_id;
  reserve.key_row = principal->key_row;
  reserve.model = std::move(req.model);
  reserve.request_id = std::move(req.request_id);
  reserve.prompt_tokens = req.prompt_tokens;
  reserve.reserve_tokens = tokens;
  reserve.now_ms = shared_->clock.wall_ms();

  // Only database work happens in the task: it may share a commit with other
  // ledger tasks, and when that shared commit fails it runs again alone. Everything
  // else waits for the commit (after_commit), so the requester hears "admitted"
  // only once the reservation row is on disk, and exactly once.
  shared_->ledger->post_grouped([shared = shared_, principal = std::move(principal), reserve = std::move(reserve),
                                 limits = result.limits, done = std::move(done)](storage::Database& db) {
    shared->unsettled->retry(db);  // settlements kept while the ledger failed go first
    auto r = storage::reserve_usage(db, reserve);
    if (!r) log::errorf("auth: cannot reserve usage: %s", r.error().message.c_str());
    db.after_commit([shared, principal, reserve, limits, done, r = std::move(r)] {
      AdmissionResult out;
      out.limits = limits;
      if (r && r->outcome == storage::ReserveOutcome::reserved) {
        out.admission = Admission(shared, principal, r->usage_id, reserve.prompt_tokens, reserve.reserve_tokens);
        done(std::move(out));
        return;
      }
      // Give back everything acquire() took.
      shared->limiter.release(principal->key_row, principal->team_id, reserve.reserve_tokens, true);
      if (!r) {
        out.denial = storage_denial(r.error().code);  // fail closed: nothing is served unbilled
      } else if (r->outcome == storage::ReserveOutcome::team_not_found) {
        out.denial = invalid_key_denial("The team of this API key no longer exists.");
      } else {
        const storage::BudgetState& b =
            r->outcome == storage::ReserveOutcome::daily_budget_exhausted ? r->day : r->month;
        out.denial = insufficient_quota_denial(budget_message(*r, reserve.reserve_tokens),
                                               b.ends_at_ms - reserve.now_ms);
      }
      done(std::move(out));
    });
  });
}

AdmissionResult AdmissionControl::admit_blocking(std::shared_ptr<const Principal> principal, AdmissionRequest req) {
  auto promise = std::make_shared<std::promise<AdmissionResult>>();
  auto future = promise->get_future();
  admit(std::move(principal), std::move(req),
        [promise](AdmissionResult r) { promise->set_value(std::move(r)); });
  return future.get();
}

}  // namespace llmd::auth
