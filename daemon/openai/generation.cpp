#include "daemon/openai/generation.hpp"

#include "daemon/http/error_status.hpp"

#include "daemon/http/sse_stream.hpp"
#include "base/log.hpp"

namespace llmd::openai {
namespace {

bool is_normal_finish(scheduler::FinishReason r) {
  return r == scheduler::FinishReason::stop || r == scheduler::FinishReason::eos ||
         r == scheduler::FinishReason::length;
}

// The answer to a refused submit().
http::Response refusal(const Error& e, const GenerationPlan& plan) {
  const std::string_view prompt_param = plan.meta.endpoint == Endpoint::chat ? "messages" : "prompt";
  if (e.code == ErrorCode::queue_full) {
    return http::error_response_for(Error(e.code, "The model '" + plan.model->id + "' is overloaded: " + e.message),
                                    {}, plan.model->scheduler->retry_after_seconds());
  }
  return http::error_response_for(e, e.code == ErrorCode::context_length_exceeded ? prompt_param : "");
}

}  // namespace

void Generation::start(http::ExchangePtr ex, GenerationPlan plan, auth::Admission admission) {
  auto g = std::make_shared<Generation>(std::move(ex), std::move(plan), std::move(admission));
  g->submit_all();
}

Generation::Generation(http::ExchangePtr ex, GenerationPlan plan, auth::Admission admission)
    : ex_(std::move(ex)),
      plan_(std::move(plan)),
      admission_(std::move(admission)),
      chunks_(plan_.meta, plan_.include_usage),
      logprob_writer_(*plan_.model->tokenizer) {
  const size_t n = static_cast<size_t>(plan_.request.n);
  choices_.resize(plan_.prompts.size() * n);
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (!plan_.echo.empty()) {
      choices_[i].text_offset = static_cast<int64_t>(plan_.echo[i / n].size());
      if (!plan_.stream) choices_[i].text = plan_.echo[i / n];
    }
  }
  if (plan_.stream && plan_.tool_format != engine::ToolCallFormat::none) {
    for (Choice& c : choices_) c.tools = std::make_unique<engine::ToolCallStream>(plan_.tool_format);
  }
  usage_.resize(plan_.prompts.size());
  outstanding_.store(plan_.prompts.size());
}

Generation::~Generation() = default;

void Generation::submit_all() {
  ex_->on_done([weak = weak_from_this()](http::Outcome outcome) {
    if (outcome == http::Outcome::completed) return;
    if (auto g = weak.lock()) g->on_exchange_done(outcome);
  });
  scheduler::Scheduler& sched = *plan_.model->scheduler;
  submitted_at_ = std::chrono::steady_clock::now();
  const size_t n_prompts = plan_.prompts.size();
  for (size_t k = 0; k < n_prompts; ++k) {
    scheduler::GenerationRequest r = plan_.request;
    r.prompt = std::move(plan_.prompts[k]);
    r.on_event = [self = shared_from_this(), k](scheduler::StreamEvent&& ev) { self->on_event(k, std::move(ev)); };
    Result<scheduler::RequestId> id = sched.submit(std::move(r));
    if (!id) {
      answered_ = true;
      ex_->respond(refusal(id.error(), plan_));
      abort_all();
      // Prompts never submitted produce no events: whoever reaches 0 settles.
      if (outstanding_.fetch_sub(n_prompts - k) == n_prompts - k) finish_request();
      return;
    }
    {
      std::lock_guard lk(mu_);
      ids_.push_back(*id);
    }
    if (cancelled_.load()) sched.abort(*id);
  }
  if (!plan_.stream) return;

  std::string head;
  for (size_t i = 0; i < choices_.size(); ++i) {
    const auto index = static_cast<int32_t>(i);
    if (plan_.meta.endpoint == Endpoint::chat) {
      chunks_.role(head, index);
    } else if (!plan_.echo.empty() && !plan_.echo[i / static_cast<size_t>(plan_.request.n)].empty()) {
      chunks_.text(head, index, plan_.echo[i / static_cast<size_t>(plan_.request.n)], nullptr);
    }
  }
  bool written = false;
  {
    std::lock_guard lk(mu_);
    http::sse::begin(*ex_, plan_.headers);
    head += early_;
    early_.clear();
    written = ex_->write(head);
    if (written && early_end_) ex_->end_stream();
    begun_.store(true, std::memory_order_release);
  }
  // Outside the lock: abort_all() takes it to read the ids.
  if (!written) abort_all();
}

void Generation::on_event(size_t prompt, scheduler::StreamEvent&& ev) {
  if (!first_event_seen_) {
    first_event_seen_ = true;
    first_event_at_ = std::chrono::steady_clock::now();
  }
  if (!first_token_seen_ && !ev.tokens.empty()) {
    first_token_seen_ = true;
    first_token_at_ = std::chrono::steady_clock::now();
  }
  const size_t index = prompt * static_cast<size_t>(plan_.request.n) + static_cast<size_t>(ev.choice);
  Choice& c = choices_[index];
  usage_[prompt] = ev.usage;
  if (admission_.valid()) admission_.record_progress(total_usage().completion_tokens);
  if (ev.finish == scheduler::FinishReason::abort && !cancelled_.load()) shut_down_ = true;
  if (ev.finish == scheduler::FinishReason::error && !engine_failed_) {
    engine_failed_ = true;
    error_message_ = ev.error.message;
    device_failed_ = ev.error.code == ErrorCode::backend_failed;
  }
  if (!cancelled_.load(std::memory_order_relaxed)) {
    if (plan_.stream) {
      stream_event(static_cast<int32_t>(index), ev, c);
    } else {
      collect_event(ev, c);
    }
  }
  if (ev.done && outstanding_.fetch_sub(1) == 1) finish_request();
}

void Generation::read_tool_calls(size_t index, std::string* text, std::vector<ToolCallOut>* calls) const {
  name_tool_calls(index, engine::parse_tool_calls(plan_.tool_format, choices_[index].text), text, calls);
}

void Generation::name_tool_calls(size_t index, engine::ParsedOutput parsed, std::string* text,
                                 std::vector<ToolCallOut>* calls) const {
  if (!plan_.parallel_tool_calls && parsed.calls.size() > 1) parsed.calls.resize(1);
  // Ids unique within the response: its id's suffix, the choice, the call.
  const std::string base = plan_.meta.id.substr(plan_.meta.id.find('-') + 1);
  for (size_t k = 0; k < parsed.calls.size(); ++k) {
    calls->push_back(ToolCallOut{"call_" + base + "_" + std::to_string(index) + "_" + std::to_string(k),
                                 std::move(parsed.calls[k].name), std::move(parsed.calls[k].arguments)});
  }
  *text = std::move(parsed.content);
}

void Generation::stream_event(int32_t index, const scheduler::StreamEvent& ev, Choice& c) {
  std::string out;
  if (c.tools) {
    // Text that cannot be part of a call streams as it comes; calls are
    // known, and sent, once the answer is complete.
    if (std::string text = c.tools->push(ev.text); !text.empty()) chunks_.text(out, index, text, nullptr);
    if (is_normal_finish(ev.finish)) {
      c.finish = ev.finish;
      std::string text;
      std::vector<ToolCallOut> calls;
      name_tool_calls(static_cast<size_t>(index), c.tools->finish(), &text, &calls);
      if (!text.empty()) chunks_.text(out, index, text, nullptr);
      if (!calls.empty()) chunks_.tool_calls(out, index, calls);
      chunks_.finish(out, index, calls.empty() ? finish_reason_name(ev.finish) : std::string_view("tool_calls"));
    }
    if (!out.empty()) send(std::move(out), false);
    return;
  }
  const bool with_logprobs = plan_.logprobs && !ev.tokens.empty();
  if (!ev.text.empty() || with_logprobs) {
    std::string lp;
    if (with_logprobs) {
      if (plan_.meta.endpoint == Endpoint::chat) {
        logprob_writer_.chat_entries(lp, ev.tokens, true);
      } else {
        logprob_writer_.completion_object(lp, ev.tokens, &c.text_offset);
      }
    }
    chunks_.text(out, index, ev.text, with_logprobs ? &lp : nullptr);
  }
  if (is_normal_finish(ev.finish)) {
    c.finish = ev.finish;
    chunks_.finish(out, index, finish_reason_name(ev.finish));
  }
  if (!out.empty()) send(std::move(out), false);
}

void Generation::collect_event(const scheduler::StreamEvent& ev, Choice& c) {
  c.text += ev.text;
  if (plan_.logprobs) c.tokens.insert(c.tokens.end(), ev.tokens.begin(), ev.tokens.end());
  if (is_normal_finish(ev.finish)) c.finish = ev.finish;
}

void Generation::send(std::string bytes, bool last) {
  if (!begun_.load(std::memory_order_acquire)) {
    std::lock_guard lk(mu_);
    if (!begun_.load(std::memory_order_relaxed)) {
      early_ += bytes;
      early_end_ = early_end_ || last;
      return;
    }
  }
  if (plan_.stream_interval.count() > 0 && !last) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_write_ < plan_.stream_interval) {
      unsent_ += bytes;
      return;
    }
    last_write_ = now;
  }
  if (!unsent_.empty()) {
    unsent_ += bytes;
    bytes = std::move(unsent_);
    unsent_.clear();
  }
  if (!ex_->write(bytes)) {
    abort_all();
    return;
  }
  if (last) ex_->end_stream();
}

void Generation::abort_all() {
  if (cancelled_.exchange(true)) return;
  std::vector<scheduler::RequestId> ids;
  {
    std::lock_guard lk(mu_);
    ids = ids_;
  }
  for (scheduler::RequestId id : ids) plan_.model->scheduler->abort(id);
}

void Generation::on_exchange_done(http::Outcome outcome) {
  if (outcome != http::Outcome::completed) abort_all();
}

scheduler::Usage Generation::total_usage() const {
  scheduler::Usage total;
  for (const auto& u : usage_) {
    total.prompt_tokens += u.prompt_tokens;
    total.completion_tokens += u.completion_tokens;
    total.cached_tokens += u.cached_tokens;
  }
  return total;
}

void Generation::finish_request() {
  const scheduler::Usage total = total_usage();
  if (answered_) return settle(storage::UsageStatus::error, total);
  if (cancelled_.load()) return settle(storage::UsageStatus::cancelled, total);
  // Settled before the answer goes out, so the access log and the ledger
  // have it when the client does.
  if (engine_failed_ || shut_down_) {
    settle(engine_failed_ ? storage::UsageStatus::error : storage::UsageStatus::cancelled, total);
    const std::string message = engine_failed_ ? "The model failed while generating: " + error_message_
                                               : std::string("The server is shutting down; retry the request.");
    if (device_failed_) {
      // The device is gone for good and llmd restarts: a retry will be served.
      const Error e(ErrorCode::backend_failed, "The model's device failed; the server is restarting. Retry the request.");
      if (plan_.stream) {
        std::string out;
        ChunkWriter::error(out, e.message, "backend_failed");
        send(std::move(out), true);
      } else {
        ex_->respond(http::error_response_for(e, {}, 5));
      }
      return;
    }
    if (plan_.stream) {
      std::string out;
      ChunkWriter::error(out, message, "server_error");
      send(std::move(out), true);
    } else {
      ex_->respond(http::error_response(engine_failed_ ? 500 : 503, message,
                                        engine_failed_ ? "engine_error" : "shutting_down"));
    }
    return;
  }

  settle(storage::UsageStatus::ok, total);
  if (plan_.stream) {
    std::string out;
    if (plan_.include_usage) chunks_.usage(out, total);
    out += ChunkWriter::kDone;
    send(std::move(out), true);
    return;
  }
  std::vector<ChoiceResult> results(choices_.size());
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    ChoiceResult& r = results[i];
    r.finish_reason = finish_reason_name(c.finish);
    if (plan_.tool_format != engine::ToolCallFormat::none) {
      read_tool_calls(i, &r.text, &r.tool_calls);
      if (!r.tool_calls.empty()) r.finish_reason = "tool_calls";
    } else {
      r.text = std::move(c.text);
    }
    if (plan_.logprobs) {
      if (plan_.meta.endpoint == Endpoint::chat) {
        r.logprobs = "{\"content\":[";
        logprob_writer_.chat_entries(r.logprobs, c.tokens, true);
        r.logprobs += "],\"refusal\":null}";
      } else {
        logprob_writer_.completion_object(r.logprobs, c.tokens, &c.text_offset);
      }
    }
  }
  http::Response resp = http::Response::json(200, whole_response(plan_.meta, results, total));
  for (const auto& [name, value] : plan_.headers.fields()) resp.headers.set(name, value);
  ex_->respond(std::move(resp));
}

void Generation::settle(storage::UsageStatus status, const scheduler::Usage& total) {
  ex_->log_field("tokens", std::to_string(total.prompt_tokens) + "+" + std::to_string(total.completion_tokens));
  if (plan_.metrics) {
    metrics::GenerationRecord g;
    g.model = plan_.meta.model;
    g.team = plan_.request.team;
    g.prompt_tokens = total.prompt_tokens;
    g.completion_tokens = total.completion_tokens;
    g.cached_tokens = total.cached_tokens;
    const auto now = std::chrono::steady_clock::now();
    if (first_token_seen_) g.time_to_first_token = first_token_at_ - submitted_at_;
    g.duration = now - submitted_at_;
    plan_.metrics->record_generation(g);
  }
  if (!admission_.valid()) return;
  auth::FinishedUsage f;
  f.status = status;
  // Prompts refused or dropped before the engine saw them are not charged.
  f.prompt_tokens = total.prompt_tokens;
  f.completion_tokens = total.completion_tokens;
  f.cached_tokens = total.cached_tokens;
  if (first_event_seen_) {
    f.queue_wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(first_event_at_ - submitted_at_).count();
  }
  admission_.finish(f);
}

}  // namespace llmd::openai
