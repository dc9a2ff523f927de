// The continuous-batching loop of one loaded model.
//
// One Scheduler per model (per backend): it owns the model's paged KV-cache
// bookkeeping and runs every step on its own thread, so the engine never waits
// on callers. Any thread may submit() and abort(); both only post to an inbox
// that the loop drains at the start of each step. Each step:
//
//   drain inbox and aborts → plan (StepPlanner) → Backend::forward → sample,
//   detokenize, match stops → stream events → release finished sequences
//
// A request finishes on an end-of-generation token, a stop string or stop id,
// max_tokens, or the context limit; an aborted one frees its blocks at the
// next step. A failed forward ends the requests in that batch with an error;
// a backend that reports itself unhealthy ends all of them and the scheduler
// refuses new work ("backend_failed").
//
// The backend can be replaced while the scheduler runs (the model manager
// moves a model to another device, parks it, or brings it back):
// replace_backend() takes effect at the next step boundary. Every running
// sequence is then preempted by recompute (its tokens so far kept, its
// sampler state too), the KV bookkeeping and prefix cache start empty, and
// the sequences continue on the new backend: callers see a pause, never an
// error, a lost or a repeated token. With no backend the scheduler is
// paused: it accepts and queues requests but runs no step until one comes.
//
// Tests and benchmarks may instead drive the loop from their own thread with
// step() (never together with start()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.hpp"
#include "base/result.hpp"
#include "engine/kv/kv_cache_manager.hpp"
#include "engine/structured/vocab_trie.hpp"
#include "scheduler/device_arbiter.hpp"
#include "scheduler/fair_queue.hpp"
#include "scheduler/request.hpp"
#include "scheduler/scheduler_config.hpp"
#include "scheduler/scheduler_stats.hpp"
#include "scheduler/sequence.hpp"
#include "scheduler/step_planner.hpp"

namespace llmd::engine {
class Tokenizer;
}

namespace llmd::scheduler {

class Scheduler {
 public:
  // Checks the configuration, sizes the KV pool and has the backend allocate
  // it. The backend and tokenizer must outlive the scheduler; nothing else may
  // run forward() on the backend meanwhile.
  static Result<std::unique_ptr<Scheduler>> create(engine::Backend& backend, const engine::Tokenizer& tokenizer,
                                                   const ModelLimits& model, const SchedulerConfig& config);
  // The same with the KV pool's shape decided by `kv_block_bytes` (what the
  // backends it will run on charge per block) and no backend yet: it starts
  // paused. The caller init_kv()s each backend with kv_shape() before
  // replace_backend() hands it over.
  static Result<std::unique_ptr<Scheduler>> create_paused(uint64_t kv_block_bytes, const engine::Tokenizer& tokenizer,
                                                          const ModelLimits& model, const SchedulerConfig& config);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the loop thread.
  void start();
  // Stops the loop: requests still queued or running end with
  // FinishReason::abort (their sinks get `done`); later submits are refused
  // with "shutting_down". Idempotent; call from any thread but the loop's.
  void stop();

  // Accepts a request (thread-safe, never blocks on the engine). Errors, with
  // their code:
  //   invalid_request          empty prompt, id out of vocabulary, bad n,
  //                            max_tokens, weight, missing sink; message names the field
  //   invalid_parameter        sampling parameters (engine::validate)
  //   context_length_exceeded  prompt (+ max_tokens) longer than max_context()
  //   queue_full               too many waiting requests (all, or this team's);
  //                            retry after retry_after_seconds()
  //   shutting_down, backend_failed
  Result<RequestId> submit(GenerationRequest request);

  // Ends a request with FinishReason::abort at the next step and frees its
  // blocks. Thread-safe, never blocks; unknown or finished ids are ignored.
  void abort(RequestId id);

  // A hint for Retry-After when submit() says queue_full: seconds until the
  // queue has likely drained enough (1..60).
  int32_t retry_after_seconds() const { return retry_after_s_.load(std::memory_order_relaxed); }

  // The KV pool a scheduler of `config` asks for when a block costs
  // `block_bytes`, and the context it then serves (*max_context).
  static Result<engine::KvCacheShape> plan_kv(uint64_t block_bytes, const ModelLimits& model,
                                              const SchedulerConfig& config, int32_t* max_context);

  // Makes `next` (null: none, paused) the backend from the next step
  // boundary on, as described above; `next` must already hold a KV pool of
  // kv_shape(). `on_replaced` runs once on the engine thread (or on the
  // caller's when the loop is not running) after the old backend is no
  // longer used; it must not block. A later call supersedes one not yet
  // applied (whose callback then runs too). Thread-safe.
  // `arbiter` (may be null) is the device arbiter of the new backend's
  // device: every forward step then takes its turn there.
  void replace_backend(engine::Backend* next, std::function<void()> on_replaced,
                       std::shared_ptr<DeviceArbiter> arbiter = nullptr);
  // The KV pool every backend of this scheduler holds.
  engine::KvCacheShape kv_shape() const { return kv_shape_; }
  // Requests accepted and not yet done (queued, running or paused).
  int32_t active_requests() const { return active_.load(std::memory_order_acquire); }

  SchedulerStats stats() const;
  // How long the loop's current step (plan, device turn, forward, sampling,
  // events) has run; zero while the loop waits for work. Any thread: the
  // daemon's watchdog reads it to tell a hung device from an idle one.
  std::chrono::nanoseconds in_step() const;
  const SchedulerConfig& config() const { return config_; }
  // Longest sequence (prompt + completion) this scheduler serves.
  int32_t max_context() const { return max_context_; }
  int32_t n_vocab() const { return model_.n_vocab; }

  // Runs one step on the caller's thread (when start() was not called).
  // Returns false when there was nothing to do.
  bool step();

 private:
  Scheduler(engine::Backend* backend, const engine::Tokenizer& tokenizer, const ModelLimits& model,
            const SchedulerConfig& config, engine::KvCacheShape kv_shape, int32_t max_context);
  void apply_backend_change();  // engine thread: a pending replace_backend()
  void preempt_all();

  void loop();

  // Engine-thread parts of a step.
  void drain_inbox();
  void run_plan(const StepPlan& plan);
  // Plans the tokens a step chooses (into samples_/sample_plans_) and adds
  // them to the batch: one per sequence whose chunk ends its known tokens,
  // and, for a leader whose choices fork at this token, one per unborn choice
  // (they share its logits row). Returns, per planned sequence, the index of
  // its first sample or -1.
  std::vector<int32_t> plan_samples(const StepPlan& plan, engine::ForwardBatch* batch);
  void ensure_constraint(Sequence* s);
  void emit_sampled(Sequence* s, std::span<const engine::SampledToken> sampled);
  void fork_choices(Sequence* leader, std::span<const engine::SampledToken> sampled);
  void accept_token(Sequence* s, const engine::SampledToken& t);
  void finish_seq(Sequence* s, FinishReason reason, int32_t stop_index = -1, const Error* error = nullptr);
  void end_request(RequestState* r, FinishReason reason, const Error* error);
  void emit(Sequence* s, FinishReason finish, int32_t stop_index, const Error* error);
  void fail_all(const Error& error);
  void publish_stats(const StepPlan* plan);
  void note_left_queue(RequestState* r);
  // The model's vocabulary as a trie for structured output, built on first
  // use; with shown control tokens (a tool-call format's markers), a trie
  // that lists them too, one per set (the sets come from the tool-call
  // formats, so a model has few).
  std::shared_ptr<const engine::structured::VocabTrie> vocab_trie(const std::vector<int32_t>& shown_control);

  engine::Backend* backend_;  // engine thread; null while paused
  std::shared_ptr<DeviceArbiter> arbiter_;  // engine thread; may be null
  int arbiter_member_ = 0;
  const engine::Tokenizer& tokenizer_;
  const ModelLimits model_;
  const SchedulerConfig config_;
  const engine::KvCacheShape kv_shape_;
  const int32_t max_context_;

  // Engine-thread state.
  std::vector<engine::SamplePlan> sample_plans_;  // the step's token choices, reused
  engine::kv::KvCacheManager kv_;
  FairQueue fair_;
  std::vector<Sequence*> running_;
  StepPlanner planner_;
  std::unordered_map<RequestId, std::unique_ptr<RequestState>> requests_;
  std::vector<RequestState*> done_;  // ended this step, destroyed after emitting
  std::unordered_map<std::string, int32_t> left_queue_;  // per team, applied to queued_ once a step
  uint64_t steps_ = 0, tokens_processed_ = 0, preemptions_ = 0, share_preemptions_ = 0, batch_seqs_sum_ = 0;
  uint64_t finished_ = 0, aborted_ = 0, prefix_query_tokens_ = 0;
  std::array<uint64_t, 8> histogram_{};
  double finish_rate_ = 0;  // requests per second, smoothed
  int64_t rate_window_start_ns_ = 0;
  uint64_t rate_window_finished_ = 0;

  // Shared with submitting threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RequestState>> inbox_;
  std::vector<RequestId> aborts_;
  std::unordered_map<std::string, int32_t> queued_;  // per team: accepted, not yet admitted or ended
  int32_t queued_total_ = 0;
  uint64_t submitted_ = 0, rejected_ = 0;
  bool stopping_ = false;
  bool failed_ = false;
  struct BackendChange {
    engine::Backend* next = nullptr;
    std::shared_ptr<DeviceArbiter> arbiter;
    std::vector<std::function<void()>> callbacks;
  };
  std::optional<BackendChange> backend_change_;
  std::atomic<int32_t> active_{0};
  std::atomic<RequestId> next_id_{1};
  std::atomic<int32_t> retry_after_s_{1};
  std::atomic<int64_t> step_started_ns_{0};  // steady clock; 0 between steps
  std::atomic<uint64_t> embed_salts_{0};  // distinct cache salts of pooled embedding requests

  mutable std::mutex stats_mu_;
  SchedulerStats stats_;

  std::mutex vocab_trie_mu_;
  std::map<std::vector<int32_t>, std::shared_ptr<const engine::structured::VocabTrie>> vocab_tries_;

  std::mutex stop_mu_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace llmd::scheduler
