// One POST /v1/embeddings request in flight: each input is a scheduler
// request of its own (prefill only, pooled hidden state back), at most
// kInFlight of them submitted at a time so that a request of many inputs
// never fills the model's queue; the next is submitted as one finishes (from
// the engine thread: submit() only posts). When every input has its
// embedding, usage is settled (prompt tokens; nothing generated) and the
// whole answer goes out. A client that goes away aborts what is in flight;
// a refusal or an engine failure ends the request with its error.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/admission.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics/metrics.hpp"
#include "models/lease.hpp"
#include "scheduler/request.hpp"

namespace llmd::openai {

struct EmbeddingPlan {
  const models::ModelInstance* model = nullptr;  // held by `lease`
  models::Lease lease;
  std::vector<std::vector<int32_t>> inputs;      // token ids, one embedding each
  int32_t dimensions = 0;                        // 0: the model's full width
  bool base64 = false;
  scheduler::GenerationRequest request;          // team, weight, priority, salt, pooling; no prompt or sink
  http::Headers headers;                         // added to the response (x-ratelimit-*)
  metrics::Metrics* metrics = nullptr;           // may be null
};

class EmbeddingJob : public std::enable_shared_from_this<EmbeddingJob> {
 public:
  static constexpr size_t kInFlight = 8;

  static void start(http::ExchangePtr ex, EmbeddingPlan plan, auth::Admission admission);

  EmbeddingJob(http::ExchangePtr ex, EmbeddingPlan plan, auth::Admission admission);

 private:
  // Submits inputs until kInFlight are outstanding or none is left; false
  // when a submit was refused (the request is then failing).
  bool submit_more();
  void on_event(size_t index, scheduler::StreamEvent&& ev);  // engine thread
  void abort_all();
  void finish();  // once, by whoever ends the last outstanding input
  void settle(storage::UsageStatus status);

  const http::ExchangePtr ex_;
  EmbeddingPlan plan_;
  auth::Admission admission_;
  std::chrono::steady_clock::time_point submitted_at_;

  std::mutex mu_;  // guards everything below
  std::vector<std::vector<float>> results_;
  std::vector<scheduler::RequestId> running_;  // submitted, not done
  size_t next_ = 0;                            // next input to submit
  size_t outstanding_ = 0;                     // submitted, not done
  int64_t prompt_tokens_ = 0;                  // of inputs the engine finished
  int64_t cached_tokens_ = 0;
  bool failed_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  bool shut_down_ = false;              // the failure was the model unloading
  std::optional<http::Response> error_;  // the answer when failed_
};

}  // namespace llmd::openai
