// The OpenAI API routes and the engine statistics route:
//
//   GET  /v1/models                 the models this caller may use
//   GET  /v1/models/{id...}         one of them (ids may contain '/')
//   POST /v1/chat/completions       chat, streamed or whole
//   POST /v1/completions            text completion, streamed or whole
//   POST /v1/embeddings             embeddings of embedding models
//   GET  /admin/v1/stats            per-model scheduler and KV-cache counters (admin role)
//
// With `auth` set, completions pass admission (rate limits, budgets) and the
// caller's team drives fair share and prefix-cache isolation; without it
// (tools that only check routes) every request runs as team "default".
#pragma once

#include <chrono>
#include <functional>

#include "auth/auth_service.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/openai/api_request.hpp"
#include "base/result.hpp"
#include "models/model_manager.hpp"

namespace llmd::openai {

struct ApiContext {
  models::ModelManager* models = nullptr;  // must outlive the server
  // Runs work on the server's worker pool (a request whose model had to
  // load continues there, not on the loader thread).
  std::function<void(std::function<void()>)> offload;
  auth::AuthService* auth = nullptr;
  std::chrono::milliseconds stream_interval{0};  // [api] stream_interval_s
  metrics::Metrics* metrics = nullptr;           // finished generations are recorded here; may be null
};

Status install_openai_routes(http::Router& router, const ApiContext& ctx);

// Handlers (routes.cpp, completion_handler.cpp, embeddings_handler.cpp, stats_route.cpp).
void handle_list_models(const ApiContext& ctx, const http::ExchangePtr& ex);
void handle_get_model(const ApiContext& ctx, const http::ExchangePtr& ex);
void handle_completion(const ApiContext& ctx, Endpoint endpoint, const http::ExchangePtr& ex);
void handle_embeddings(const ApiContext& ctx, const http::ExchangePtr& ex);
void handle_stats(const ApiContext& ctx, const http::ExchangePtr& ex);

// 404 model_not_found for `id`.
void respond_model_not_found(http::Exchange& ex, std::string_view id);

}  // namespace llmd::openai
