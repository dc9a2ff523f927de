#include "daemon/metrics/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <sstream>

namespace llmd::metrics {
namespace {

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Latency buckets from 5 ms to 5 minutes.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

// Time per output token: 1 ms to 2 s.
prometheus::Histogram::BucketBoundaries token_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2};
}

std::string status_class(int status) {
  if (status <= 0) return "none";
  return std::to_string(status);
}

}  // namespace

struct Metrics::Families {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("llmd_requests_total")
          .Help("API requests that ended, by team, model, endpoint and HTTP status (none: the client left first)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& refusals =
      prometheus::BuildCounter()
          .Name("llmd_refusals_total")
          .Help("Requests refused by admission, by team and reason (rate_limit_exceeded, insufficient_quota, ...)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& tokens =
      prometheus::BuildCounter()
          .Name("llmd_tokens_total")
          .Help("Tokens of finished generations, by team, model and kind (prompt, completion, cached prompt)")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& ttft =
      prometheus::BuildHistogram()
          .Name("llmd_time_to_first_token_seconds")
          .Help("Time from a request's submission to the engine until its first token")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& tpot =
      prometheus::BuildHistogram()
          .Name("llmd_time_per_output_token_seconds")
          .Help("Mean time between output tokens after the first, per request")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("llmd_request_duration_seconds")
          .Help("Time from a generation's submission to its end")
          .Register(*registry);
  std::mutex mu;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
};

Metrics::Metrics() : f_(std::make_unique<Families>()) {}
Metrics::~Metrics() = default;

void Metrics::record_request(const http::RequestSummary& r) {
  if (r.labels.endpoint.empty()) return;
  f_->requests
      .Add({{"team", r.labels.team},
            {"model", r.labels.model},
            {"endpoint", r.labels.endpoint},
            {"status", status_class(r.status)}})
      .Increment();
  if (!r.labels.refusal.empty()) f_->refusals.Add({{"team", r.labels.team}, {"reason", r.labels.refusal}}).Increment();
}

void Metrics::record_generation(const GenerationRecord& g) {
  auto add = [&](const char* kind, int64_t n) {
    if (n > 0) f_->tokens.Add({{"team", g.team}, {"model", g.model}, {"kind", kind}}).Increment(static_cast<double>(n));
  };
  add("prompt", g.prompt_tokens);
  add("completion", g.completion_tokens);
  add("cached", g.cached_tokens);
  const prometheus::Labels model{{"model", g.model}};
  if (g.time_to_first_token.count() > 0) {
    f_->ttft.Add(model, latency_buckets()).Observe(seconds(g.time_to_first_token));
    if (g.completion_tokens > 1 && g.duration > g.time_to_first_token) {
      f_->tpot.Add(model, token_buckets())
          .Observe(seconds(g.duration - g.time_to_first_token) / static_cast<double>(g.completion_tokens - 1));
    }
  }
  f_->duration.Add(model, latency_buckets()).Observe(seconds(g.duration));
}

void Metrics::add_collectable(std::shared_ptr<prometheus::Collectable> c) {
  std::lock_guard lk(f_->mu);
  f_->collectables.push_back(std::move(c));
}

std::string Metrics::render() const {
  std::vector<prometheus::MetricFamily> families = f_->registry->Collect();
  {
    std::lock_guard lk(f_->mu);
    for (const auto& c : f_->collectables) {
      auto more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace llmd::metrics
