// The daemon's Prometheus metrics: what happened (requests, tokens, latency,
// refusals, model loads), recorded as it happens, and what is (models,
// queues, KV blocks, devices, the process), read from their owners at each
// scrape. Labels are bounded: endpoint names, configured model ids, team
// names, device ids and fixed state names; never keys or request ids.
//
// Thread-safe: the record_*() calls come from I/O threads and the engine
// side; render() from the metrics listener's thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "daemon/http/exchange.hpp"

namespace prometheus {
class Collectable;
}

namespace llmd::metrics {

struct GenerationRecord {
  std::string model;
  std::string team;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  std::chrono::steady_clock::duration time_to_first_token{};  // zero when no token came
  std::chrono::steady_clock::duration duration{};             // submit to end
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // A request ended (the HTTP server's observer): llmd_requests_total and
  // llmd_refusals_total for requests a handler labelled with an endpoint.
  void record_request(const http::RequestSummary& r);
  // A generation ended: tokens, time to first token, time per output token,
  // duration.
  void record_generation(const GenerationRecord& g);

  // Families read at scrape time (models, devices, the process).
  void add_collectable(std::shared_ptr<prometheus::Collectable> c);

  // The text exposition format (version 0.0.4) of every family.
  std::string render() const;

 private:
  struct Families;
  std::unique_ptr<Families> f_;
};

}  // namespace llmd::metrics
