#include "daemon/openai/embedding_job.hpp"

#include <algorithm>

#include "daemon/http/error_status.hpp"
#include "daemon/openai/embedding_response.hpp"
#include "engine/embed/pooler.hpp"

namespace llmd::openai {

void EmbeddingJob::start(http::ExchangePtr ex, EmbeddingPlan plan, auth::Admission admission) {
  auto job = std::make_shared<EmbeddingJob>(std::move(ex), std::move(plan), std::move(admission));
  job->ex_->on_done([weak = job->weak_from_this()](http::Outcome outcome) {
    if (outcome == http::Outcome::completed) return;
    if (auto j = weak.lock()) {
      {
        std::lock_guard lk(j->mu_);
        j->cancelled_ = true;
      }
      j->abort_all();
    }
  });
  job->submitted_at_ = std::chrono::steady_clock::now();
  bool done_now = false, refused = false;
  {
    std::lock_guard lk(job->mu_);
    refused = !job->submit_more();
    done_now = job->outstanding_ == 0 && !job->finished_;
    if (done_now) job->finished_ = true;
  }
  if (refused) job->abort_all();  // the inputs already submitted end as aborted
  if (done_now) job->finish();
}

EmbeddingJob::EmbeddingJob(http::ExchangePtr ex, EmbeddingPlan plan, auth::Admission admission)
    : ex_(std::move(ex)), plan_(std::move(plan)), admission_(std::move(admission)) {
  results_.resize(plan_.inputs.size());
}

bool EmbeddingJob::submit_more() {
  scheduler::Scheduler& sched = *plan_.model->scheduler;
  while (!failed_ && !cancelled_ && outstanding_ < kInFlight && next_ < plan_.inputs.size()) {
    const size_t index = next_;
    scheduler::GenerationRequest r = plan_.request;
    r.prompt = std::move(plan_.inputs[index]);
    r.on_event = [self = shared_from_this(), index](scheduler::StreamEvent&& ev) { self->on_event(index, std::move(ev)); };
    Result<scheduler::RequestId> id = sched.submit(std::move(r));
    if (!id) {
      const Error& e = id.error();
      failed_ = true;
      if (e.code == ErrorCode::queue_full) {
        error_ = http::error_response_for(Error(e.code, "The model '" + plan_.model->id + "' is overloaded: " + e.message),
                                          {}, sched.retry_after_seconds());
      } else {
        error_ = http::error_response_for(e, e.code == ErrorCode::context_length_exceeded ? "input" : "");
      }
      return false;
    }
    ++next_;
    ++outstanding_;
    running_.push_back(*id);
  }
  return true;
}

void EmbeddingJob::on_event(size_t index, scheduler::StreamEvent&& ev) {
  if (!ev.done) return;
  bool last = false;
  bool abort_rest = false;
  {
    std::lock_guard lk(mu_);
    running_.erase(std::remove(running_.begin(), running_.end(), ev.request), running_.end());
    --outstanding_;
    prompt_tokens_ += ev.usage.prompt_tokens;
    cached_tokens_ += ev.usage.cached_tokens;
    if (ev.finish == scheduler::FinishReason::stop && !ev.embedding.empty()) {
      std::vector<float> v = std::move(ev.embedding);
      if (plan_.dimensions > 0 && static_cast<size_t>(plan_.dimensions) < v.size())
        v = engine::truncate_embedding(v, plan_.dimensions);
      results_[index] = std::move(v);
    } else if (!failed_ && !cancelled_) {
      failed_ = true;
      abort_rest = true;
      if (ev.finish == scheduler::FinishReason::abort) {
        shut_down_ = true;
        error_ = http::error_response(503, "The server is shutting down; retry the request.", "shutting_down");
      } else if (ev.error.code == ErrorCode::backend_failed) {
        error_ = http::error_response_for(
            Error(ErrorCode::backend_failed, "The model's device failed; the server is restarting. Retry the request."),
            {}, 5);
      } else {
        error_ = http::error_response(500, "The model failed while computing an embedding: " + ev.error.message,
                                      "engine_error");
      }
    }
    if (!failed_ && !cancelled_) submit_more();
    if (failed_ && !abort_rest) abort_rest = !running_.empty();
    last = outstanding_ == 0 && !finished_;
    if (last) finished_ = true;
  }
  if (abort_rest) abort_all();
  if (last) finish();
}

void EmbeddingJob::abort_all() {
  std::vector<scheduler::RequestId> ids;
  {
    std::lock_guard lk(mu_);
    ids = running_;
  }
  for (scheduler::RequestId id : ids) plan_.model->scheduler->abort(id);
}

void EmbeddingJob::settle(storage::UsageStatus status) {
  ex_->log_field("tokens", std::to_string(prompt_tokens_) + "+0");
  if (plan_.metrics) {
    metrics::GenerationRecord g;
    g.model = plan_.model->id;
    g.team = plan_.request.team;
    g.prompt_tokens = prompt_tokens_;
    g.cached_tokens = cached_tokens_;
    g.duration = std::chrono::steady_clock::now() - submitted_at_;
    plan_.metrics->record_generation(g);
  }
  if (!admission_.valid()) return;
  auth::FinishedUsage f;
  f.status = status;
  f.prompt_tokens = prompt_tokens_;  // inputs never submitted (after a refusal) are not charged
  f.cached_tokens = cached_tokens_;
  admission_.finish(f);
}

void EmbeddingJob::finish() {
  // Runs once, after the last input ended; only the client going away can
  // still change the state.
  bool cancelled = false, failed = false;
  {
    std::lock_guard lk(mu_);
    cancelled = cancelled_;
    failed = failed_;
  }
  if (cancelled) return settle(storage::UsageStatus::cancelled);
  if (failed) {
    settle(shut_down_ ? storage::UsageStatus::cancelled : storage::UsageStatus::error);
    http::Response resp = std::move(*error_);
    for (const auto& [name, value] : plan_.headers.fields()) resp.headers.set(name, value);
    ex_->respond(std::move(resp));
    return;
  }
  settle(storage::UsageStatus::ok);
  http::Response resp =
      http::Response::json(200, embeddings_response(plan_.model->id, results_, plan_.base64, prompt_tokens_));
  for (const auto& [name, value] : plan_.headers.fields()) resp.headers.set(name, value);
  ex_->respond(std::move(resp));
}

}  // namespace llmd::openai
