#include "scheduler/scheduler.hpp"

#include <pthread.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "base/log.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/validation.hpp"

namespace llmd::scheduler {
namespace {

std::string fmt(const char* f, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::eos: return "eos";
    case FinishReason::abort: return "abort";
    case FinishReason::error: return "error";
  }
  return "";
}

Result<engine::KvCacheShape> Scheduler::plan_kv(uint64_t block_bytes, const ModelLimits& model,
                                                const SchedulerConfig& c, int32_t* max_context_out) {
  if (Status st = check_config(model, c); !st) return st.take_error();
  auto bad = [](std::string m) { return Error(ErrorCode::invalid_config, std::move(m)); };

  engine::KvCacheShape shape{0, c.block_size, c.kv_dtype};
  const int64_t per_seq_blocks = (static_cast<int64_t>(model.n_ctx) + c.block_size - 1) / c.block_size;
  int64_t n_blocks = c.kv_blocks;
  if (n_blocks == 0 && c.kv_bytes > 0) {
    if (block_bytes == 0) return bad("the backend reports a KV block size of 0 bytes");
    n_blocks = static_cast<int64_t>(c.kv_bytes / block_bytes);
  } else if (n_blocks == 0) {
    n_blocks = per_seq_blocks * c.max_seqs;
  }
  n_blocks = std::min<int64_t>(n_blocks, INT32_MAX / std::max(c.block_size, 1));
  const int64_t pool_tokens = n_blocks * c.block_size;
  if (pool_tokens < 2) {
    return bad(fmt("the KV pool holds %lld tokens; at least 2 are needed", static_cast<long long>(pool_tokens)));
  }
  int64_t max_context = c.max_context > 0 ? std::min(c.max_context, model.n_ctx) : model.n_ctx;
  max_context = std::min(max_context, pool_tokens);
  shape.n_blocks = static_cast<int32_t>(n_blocks);
  *max_context_out = static_cast<int32_t>(max_context);
  return shape;
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(engine::Backend& backend, const engine::Tokenizer& tokenizer,
                                                     const ModelLimits& model, const SchedulerConfig& c) {
  int32_t max_context = 0;
  auto shape = plan_kv(backend.kv_block_bytes({0, c.block_size, c.kv_dtype}), model, c, &max_context);
  if (!shape) return shape.take_error();
  if (Status st = backend.init_kv(*shape); !st) return st.take_error();
  return std::unique_ptr<Scheduler>(new Scheduler(&backend, tokenizer, model, c, *shape, max_context));
}

Result<std::unique_ptr<Scheduler>> Scheduler::create_paused(uint64_t kv_block_bytes, const engine::Tokenizer& tokenizer,
                                                            const ModelLimits& model, const SchedulerConfig& c) {
  int32_t max_context = 0;
  auto shape = plan_kv(kv_block_bytes, model, c, &max_context);
  if (!shape) return shape.take_error();
  return std::unique_ptr<Scheduler>(new Scheduler(nullptr, tokenizer, model, c, *shape, max_context));
}

Scheduler::Scheduler(engine::Backend* backend, const engine::Tokenizer& tokenizer, const ModelLimits& model,
                     const SchedulerConfig& config, engine::KvCacheShape kv_shape, int32_t max_context)
    : backend_(backend),
      tokenizer_(tokenizer),
      model_(model),
      config_(config),
      kv_shape_(kv_shape),
      max_context_(max_context),
      kv_(kv_shape.n_blocks, config.block_size),
      fair_(config.weights),
      planner_(config_, kv_, fair_, running_) {
  rate_window_start_ns_ = now_ns();
  publish_stats(nullptr);
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  std::lock_guard lk(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { loop(); });
  // Thread names are at most 15 bytes.
  const std::string name = ("llmd-" + config_.name).substr(0, 15);
  pthread_setname_np(thread_.native_handle(), name.c_str());
}

void Scheduler::stop() {
  assert(!thread_.joinable() || std::this_thread::get_id() != thread_.get_id());  // never from the loop itself
  std::lock_guard stop_lk(stop_mu_);  // one stopper at a time
  bool join = false;
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    join = thread_.joinable();
  }
  cv_.notify_all();
  if (join) {
    thread_.join();
  } else {
    // Never started (or driven by step()): end everything on this thread.
    drain_inbox();
    apply_backend_change();
    fail_all(Error(ErrorCode::shutting_down, "the model is being unloaded"));
    publish_stats(nullptr);
  }
  // The loop has ended: nobody waits for this member any more.
  if (arbiter_) {
    arbiter_->leave(arbiter_member_);
    arbiter_.reset();
  }
}

void Scheduler::loop() {
  for (;;) {
    step_started_ns_.store(now_ns(), std::memory_order_relaxed);
    const bool worked = step();
    if (config_.after_step) config_.after_step();
    step_started_ns_.store(0, std::memory_order_relaxed);
    std::unique_lock lk(mu_);
    if (stopping_) break;
    if (!worked) {
      cv_.wait(lk, [this] { return stopping_ || !inbox_.empty() || !aborts_.empty() || backend_change_.has_value(); });
    }
    if (stopping_) break;
  }
  drain_inbox();
  apply_backend_change();
  fail_all(Error(ErrorCode::shutting_down, "the model is being unloaded"));
  publish_stats(nullptr);
  if (config_.after_step) config_.after_step();
}

Result<RequestId> Scheduler::submit(GenerationRequest request) {
  if (Status st = check_request(request, model_, config_, max_context_); !st) {
    std::lock_guard lk(mu_);
    ++rejected_;
    return st.take_error();
  }
  auto r = std::make_unique<RequestState>();
  if (request.embed == engine::PoolingType::mean || request.embed == engine::PoolingType::cls) {
    // These poolings need the hidden state of every position (or the first),
    // which a prefix-cache hit would skip: a salt of its own keeps the request
    // from matching blocks it did not compute (its own blocks, computed before
    // a preemption, it may reuse).
    request.cache_salt += "\x1f" "pooled-embedding " + std::to_string(embed_salts_.fetch_add(1));
  }
  r->root = engine::kv::hash_salt(request.cache_salt);
  r->usage.prompt_tokens = static_cast<int32_t>(request.prompt.size());
  r->unfinished = request.n;
  r->forked = request.n == 1;
  for (int32_t i = 0; i < request.n; ++i) {
    auto s = std::make_unique<Sequence>();
    s->req = r.get();
    s->choice = i;
    s->table.root = r->root;
    s->prompt_len = static_cast<int32_t>(request.prompt.size());
    engine::SamplingParams sp = request.sampling;
    if (sp.seed) sp.seed = *sp.seed + static_cast<uint64_t>(i);
    s->sampler.emplace(std::move(sp));
    if (request.embed != engine::PoolingType::none)
      s->pooler.emplace(request.embed, model_.n_embd, static_cast<int32_t>(request.prompt.size()));
    s->text = std::make_unique<ChoiceStream>(tokenizer_, request.stop, request.shown_control_tokens);
    if (i == 0) {
      s->tokens = request.prompt;
      s->state = SeqState::waiting;
    } else {
      s->state = SeqState::unborn;
    }
    r->choices.push_back(std::move(s));
  }
  r->params = std::move(request);

  std::lock_guard lk(mu_);
  if (stopping_) {
    ++rejected_;
    return Error(ErrorCode::shutting_down, "the model is being unloaded");
  }
  if (failed_) {
    ++rejected_;
    return Error(ErrorCode::backend_failed, "the model's backend failed; the server needs a restart");
  }
  int32_t& team_queued = queued_[r->params.team];
  if (queued_total_ >= config_.max_waiting || team_queued >= config_.max_waiting_per_team) {
    ++rejected_;
    return Error(ErrorCode::queue_full, fmt("too many requests are waiting for this model (%s); retry in %d s",
                                   queued_total_ >= config_.max_waiting ? "all teams" : "this team",
                                   retry_after_s_.load()));
  }
  ++team_queued;
  ++queued_total_;
  ++submitted_;
  active_.fetch_add(1, std::memory_order_acq_rel);
  const RequestId id = next_id_.fetch_add(1);
  r->id = id;
  inbox_.push_back(std::move(r));
  cv_.notify_one();
  return id;
}

void Scheduler::abort(RequestId id) {
  {
    std::lock_guard lk(mu_);
    aborts_.push_back(id);
  }
  cv_.notify_one();
}

void Scheduler::drain_inbox() {
  std::vector<std::unique_ptr<RequestState>> in;
  std::vector<RequestId> ab;
  {
    std::lock_guard lk(mu_);
    in.swap(inbox_);
    ab.swap(aborts_);
    for (const auto& [team, n] : left_queue_) {
      queued_[team] -= n;
      queued_total_ -= n;
      if (queued_[team] == 0) queued_.erase(team);
    }
  }
  left_queue_.clear();
  for (auto& r : in) {
    RequestState* p = r.get();
    requests_.emplace(p->id, std::move(r));
    fair_.push_back(p->params.team, p->params.team_weight, p->choices[0]->handle(), p->params.priority);
  }
  for (RequestId id : ab) {
    auto it = requests_.find(id);
    if (it != requests_.end()) end_request(it->second.get(), FinishReason::abort, nullptr);
  }
}

void Scheduler::replace_backend(engine::Backend* next, std::function<void()> on_replaced,
                                std::shared_ptr<DeviceArbiter> arbiter) {
  {
    std::lock_guard lk(mu_);
    if (!backend_change_) backend_change_.emplace();
    backend_change_->next = next;
    backend_change_->arbiter = std::move(arbiter);
    if (on_replaced) backend_change_->callbacks.push_back(std::move(on_replaced));
  }
  cv_.notify_one();
}

void Scheduler::apply_backend_change() {
  std::optional<BackendChange> change;
  {
    std::lock_guard lk(mu_);
    change.swap(backend_change_);
  }
  if (!change) return;
  if (change->arbiter != arbiter_) {
    if (arbiter_) arbiter_->leave(arbiter_member_);
    arbiter_ = std::move(change->arbiter);
    arbiter_member_ = arbiter_ ? arbiter_->join() : 0;
  }
  if (change->next != backend_) {
    preempt_all();
    backend_ = change->next;
    publish_stats(nullptr);  // the preemptions are visible before anyone hears of the change
  }
  for (auto& cb : change->callbacks) cb();
}

void Scheduler::preempt_all() {
  StepPlan none;
  while (!running_.empty()) planner_.preempt(running_.back(), none);
  preemptions_ += none.preempted.size();
  // Cached blocks hold the old backend's K/V: start with an empty pool.
  kv_ = engine::kv::KvCacheManager(kv_shape_.n_blocks, kv_shape_.block_size);
}

bool Scheduler::step() {
  drain_inbox();
  apply_backend_change();
  if (backend_ == nullptr) {  // paused: requests wait in the queue
    if (arbiter_) arbiter_->idle(arbiter_member_);
    publish_stats(nullptr);
    return false;
  }
  StepPlan plan = planner_.plan();
  for (Sequence* s : plan.admitted) {
    prefix_query_tokens_ += static_cast<uint64_t>(s->size());
    note_left_queue(s->req);
  }
  const bool worked = !plan.empty();
  if (worked) {
    run_plan(plan);
  } else if (arbiter_) {
    arbiter_->idle(arbiter_member_);  // other models need not wait for this one
  }
  for (RequestState* r : done_) requests_.erase(r->id);
  active_.fetch_sub(static_cast<int32_t>(done_.size()), std::memory_order_acq_rel);
  done_.clear();
  publish_stats(worked ? &plan : nullptr);
  return worked;
}

void Scheduler::run_plan(const StepPlan& plan) {
  engine::ForwardBatch batch;
  batch.seqs.reserve(plan.seqs.size());
  for (const PlannedSeq& p : plan.seqs) {
    Sequence* s = p.seq;
    engine::BatchSeq b;
    b.tokens = std::span<const int32_t>(s->tokens).subspan(static_cast<size_t>(s->num_computed),
                                                           static_cast<size_t>(p.n_tokens));
    b.pos = s->num_computed;
    b.block_table = s->table.span();
    if (s->pooler) {
      b.logits = s->pooler->mode_for_chunk(s->num_computed, p.n_tokens);
    } else {
      const bool last = s->num_computed + p.n_tokens == s->size();
      b.logits = last ? engine::LogitsMode::last : engine::LogitsMode::none;
    }
    batch.seqs.push_back(b);
  }

  // Whose tokens this step carries, for the device arbiter's turn and charge.
  std::vector<TeamStepShare> shares;
  if (arbiter_) {
    for (const PlannedSeq& p : plan.seqs) {
      const auto& params = p.seq->req->params;
      auto it = std::find_if(shares.begin(), shares.end(), [&](const TeamStepShare& t) { return t.team == params.team; });
      if (it == shares.end()) {
        shares.push_back(TeamStepShare{params.team, params.team_weight, p.n_tokens});
      } else {
        it->tokens += p.n_tokens;
      }
    }
    arbiter_->acquire(arbiter_member_, shares);
  }
  const std::vector<int32_t> first_sample = plan_samples(plan, &batch);
  const int64_t forward_start = arbiter_ ? now_ns() : 0;
  engine::ForwardOutput out;
  Status forwarded = engine::forward_and_sample(*backend_, batch, &out);
  if (arbiter_) arbiter_->release(arbiter_member_, shares, static_cast<double>(now_ns() - forward_start) * 1e-9);
  if (Status st = std::move(forwarded); !st) {
    log::errorf("scheduler %s: forward step failed: %s", config_.name.c_str(), st.error().message.c_str());
    const Error err(ErrorCode::engine_error, "the model failed to compute this request: " + st.error().message);
    if (!backend_->healthy()) {
      fail_all(Error(ErrorCode::backend_failed, "the model's backend failed: " + st.error().message));
      return;
    }
    for (const PlannedSeq& p : plan.seqs) {
      if (p.seq->state != SeqState::finished) end_request(p.seq->req, FinishReason::error, &err);
    }
    return;
  }

  int32_t embd_row = 0;
  for (size_t i = 0; i < plan.seqs.size(); ++i) {
    Sequence* s = plan.seqs[i].seq;
    const engine::LogitsMode mode = batch.seqs[i].logits;
    const int32_t n = plan.seqs[i].n_tokens;
    const int32_t er = embd_row;
    embd_row += mode == engine::LogitsMode::embed_all ? n : mode == engine::LogitsMode::embed_last ? 1 : 0;
    if (s->state != SeqState::running) continue;
    const int32_t pos = s->num_computed;
    s->num_computed += n;
    kv_.commit(s->table, s->tokens, s->num_computed);
    if (s->pooler) {
      if (engine::is_embedding_mode(mode)) {
        if (embd_row > out.n_embd_rows || out.n_embd != model_.n_embd) {
          const Error err(ErrorCode::engine_error, "the backend returned fewer hidden states than asked for");
          end_request(s->req, FinishReason::error, &err);
          continue;
        }
        const auto rows = std::span<const float>(out.embeddings)
                              .subspan(static_cast<size_t>(er) * static_cast<size_t>(out.n_embd),
                                       static_cast<size_t>(embd_row - er) * static_cast<size_t>(out.n_embd));
        s->pooler->add(pos, n, mode, rows);
      }
      if (s->num_computed == s->size()) {
        if (!s->pooler->complete()) {
          const Error err(ErrorCode::engine_error, "the embedding misses hidden states of its text");
          end_request(s->req, FinishReason::error, &err);
          continue;
        }
        s->pending_embedding = s->pooler->finish();
        finish_seq(s, FinishReason::stop);
      }
      continue;
    }
    if (first_sample[i] >= 0) {
      const auto k = static_cast<size_t>(first_sample[i]);
      if (k >= out.sampled.size() || out.n_vocab != model_.n_vocab) {
        const Error err(ErrorCode::engine_error, "the backend returned fewer tokens than asked for");
        end_request(s->req, FinishReason::error, &err);
        continue;
      }
      emit_sampled(s, std::span<const engine::SampledToken>(out.sampled).subspan(k));
    }
  }
}

void Scheduler::finish_seq(Sequence* s, FinishReason reason, int32_t stop_index, const Error* error) {
  RequestState* r = s->req;
  const std::string& team = r->params.team;
  switch (s->state) {
    case SeqState::running:
      kv_.release(s->table);
      running_.erase(std::find(running_.begin(), running_.end(), s));
      fair_.on_finished(team);
      break;
    case SeqState::waiting:
      fair_.remove(team, s->handle());
      break;
    case SeqState::unborn:
    case SeqState::finished:
      break;
  }
  if (s->state == SeqState::finished) return;
  s->state = SeqState::finished;
  note_left_queue(r);
  // Held-back text is real output unless a stop string ended the choice or
  // nobody is listening any more.
  if (reason == FinishReason::eos || reason == FinishReason::length ||
      (reason == FinishReason::stop && stop_index < 0)) {
    s->pending_text += s->text->finish();
  }
  --r->unfinished;
  emit(s, reason, stop_index, error);
  if (r->unfinished == 0) {
    done_.push_back(r);
    ++finished_;
    if (reason == FinishReason::abort) ++aborted_;
  }
}

void Scheduler::end_request(RequestState* r, FinishReason reason, const Error* error) {
  for (auto& c : r->choices) {
    if (c->state != SeqState::finished) finish_seq(c.get(), reason, -1, error);
  }
}

void Scheduler::emit(Sequence* s, FinishReason finish, int32_t stop_index, const Error* error) {
  RequestState* r = s->req;
  StreamEvent ev;
  ev.request = r->id;
  ev.choice = s->choice;
  ev.tokens = std::move(s->pending_tokens);
  ev.text = std::move(s->pending_text);
  s->pending_tokens.clear();
  s->pending_text.clear();
  ev.finish = finish;
  ev.stop_index = stop_index;
  ev.done = finish != FinishReason::none && r->unfinished == 0;
  ev.usage = r->usage;
  ev.embedding = std::move(s->pending_embedding);
  s->pending_embedding.clear();
  if (error) ev.error = *error;
  r->params.on_event(std::move(ev));
}

void Scheduler::fail_all(const Error& error) {
  const FinishReason reason = error.code == ErrorCode::shutting_down ? FinishReason::abort : FinishReason::error;
  bool newly_failed = false;
  if (error.code == ErrorCode::backend_failed) {
    std::lock_guard lk(mu_);
    newly_failed = !failed_;
    failed_ = true;
  }
  std::vector<RequestState*> all;
  all.reserve(requests_.size());
  for (auto& [id, r] : requests_) all.push_back(r.get());
  std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (RequestState* r : all) end_request(r, reason, reason == FinishReason::error ? &error : nullptr);
  for (RequestState* r : done_) requests_.erase(r->id);
  active_.fetch_sub(static_cast<int32_t>(done_.size()), std::memory_order_acq_rel);
  done_.clear();
  if (newly_failed && config_.on_backend_failed) config_.on_backend_failed(error);
}

void Scheduler::note_left_queue(RequestState* r) {
  if (r->admitted) return;
  r->admitted = true;
  ++left_queue_[r->params.team];
}

void Scheduler::publish_stats(const StepPlan* plan) {
  if (plan) {
    ++steps_;
    tokens_processed_ += static_cast<uint64_t>(plan->n_tokens);
    preemptions_ += plan->preempted.size();
    share_preemptions_ += static_cast<uint64_t>(plan->share_preemptions);
    batch_seqs_sum_ += plan->seqs.size();
    ++histogram_[SchedulerStats::histogram_bucket(static_cast<int32_t>(plan->seqs.size()))];
  }

  // Retry-After hint: how long the current queue takes at the recent rate.
  const int64_t t = now_ns();
  const double window_s = static_cast<double>(t - rate_window_start_ns_) * 1e-9;
  if (window_s >= 1.0) {
    const double rate = static_cast<double>(finished_ - rate_window_finished_) / window_s;
    finish_rate_ = finish_rate_ == 0 ? rate : 0.7 * finish_rate_ + 0.3 * rate;
    rate_window_start_ns_ = t;
    rate_window_finished_ = finished_;
  }
  uint64_t submitted, rejected;
  int32_t queued;
  {
    std::lock_guard lk(mu_);
    submitted = submitted_;
    rejected = rejected_;
    queued = queued_total_;
  }
  const double eta = static_cast<double>(queued) / std::max(finish_rate_, 0.05);
  retry_after_s_.store(static_cast<int32_t>(std::clamp(std::ceil(eta), 1.0, 60.0)), std::memory_order_relaxed);

  std::lock_guard lk(stats_mu_);
  SchedulerStats& s = stats_;
  const auto& pool = kv_.pool();
  s.kv_blocks_total = pool.n_blocks();
  s.kv_blocks_used = pool.num_used();
  s.kv_blocks_cached = pool.num_cached();
  s.kv_blocks_evictable = pool.num_evictable();
  s.kv_block_size = pool.block_size();
  s.kv_evictions = pool.num_evictions();
  s.prefix_hit_tokens = kv_.prefix_hit_tokens();
  s.prefix_query_tokens = prefix_query_tokens_;
  s.steps = steps_;
  s.tokens_processed = tokens_processed_;
  s.preemptions = preemptions_;
  s.share_preemptions = share_preemptions_;
  if (plan) {
    s.last_batch_seqs = static_cast<int32_t>(plan->seqs.size());
    s.last_batch_tokens = plan->n_tokens;
  }
  s.batch_seqs_sum = batch_seqs_sum_;
  s.batch_seqs_histogram = histogram_;
  s.requests_submitted = submitted;
  s.requests_rejected = rejected;
  s.requests_finished = finished_;
  s.requests_aborted = aborted_;
  s.waiting = fair_.waiting();
  s.running = static_cast<int32_t>(running_.size());
  s.teams = fair_.counters();
}

std::chrono::nanoseconds Scheduler::in_step() const {
  const int64_t started = step_started_ns_.load(std::memory_order_relaxed);
  return std::chrono::nanoseconds(started == 0 ? 0 : std::max<int64_t>(0, now_ns() - started));
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lk(stats_mu_);
  return stats_;
}

}  // namespace llmd::scheduler
