// The steps every request that runs on a model (completions, chat
// completions, embeddings) takes after its body has parsed and before the
// model's own work: the llmd-priority header, the model name, the log and
// metric labels, the cheap refusals, then a lease on the model.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http/exchange.hpp"
#include "daemon/openai/routes.hpp"
#include "models/lease.hpp"
#include "scheduler/request.hpp"

namespace llmd::openai {

// Applies the llmd-priority header to *priority, resolves `model` to an id,
// labels the access log and metrics with it and refuses (without tokenizing
// anything) a model the caller's team may not use, an empty RPM bucket or the
// team's concurrency cap. Returns the id, or nullopt once it has answered.
std::optional<std::string> front_of_model_request(const ApiContext& ctx, const http::ExchangePtr& ex,
                                                  std::string_view endpoint, const std::string& model,
                                                  std::optional<scheduler::Priority>* priority);

// Takes a lease on model `id` (loading it when needed) and calls run(lease)
// exactly once on a worker thread: at once on this thread when the model is
// resident, else through ctx.offload. A model that cannot be had is answered
// here (503 model_failed, else the manager's error) and run is not called.
// `tick` (may be empty) is called while the request waits for a load. A
// request whose connection ends first stops waiting.
void with_model_lease(const ApiContext& ctx, const http::ExchangePtr& ex, const std::string& id,
                      std::function<void(models::Lease)> run, std::function<void()> tick);

}  // namespace llmd::openai
