// Checks of a scheduler's configuration and of each submitted request, with
// the error codes and messages callers show (see Scheduler::submit).
#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "scheduler/request.hpp"
#include "scheduler/scheduler_config.hpp"

namespace llmd::scheduler {

// Error code "invalid_config"; the message names the setting.
Status check_config(const ModelLimits& model, const SchedulerConfig& config);

// Error codes "invalid_request", "invalid_parameter" (sampling, from
// engine::validate) and "context_length_exceeded".
Status check_request(const GenerationRequest& request, const ModelLimits& model, const SchedulerConfig& config,
                     int32_t max_context);

}  // namespace llmd::scheduler
