// Metric families read at each scrape from their owners: every model's state,
// queue and KV blocks (the model manager and its schedulers), every device's
// memory and the device time of each team (its arbiter), and the process
// (memory, file descriptors, threads, start time).
#pragma once

#include <prometheus/collectable.h>

#include <chrono>

#include "models/model_manager.hpp"

namespace llmd::metrics {

class StateMetrics : public prometheus::Collectable {
 public:
  explicit StateMetrics(const models::ModelManager& models);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const models::ModelManager& models_;
  const double start_time_s_;  // Unix time of start
};

// The process part alone (also used without a model manager).
void collect_process(std::vector<prometheus::MetricFamily>* out, double start_time_s);

}  // namespace llmd::metrics
