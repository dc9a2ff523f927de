// The model manager's admin routes (admin role; changes audited):
//
//   GET    /admin/v1/devices               devices, budgets, reservations, models on each
//   GET    /admin/v1/models                every model in the catalog
//   POST   /admin/v1/models                add (202 loading; with "wait": 201 once ready)
//   GET    /admin/v1/models/{id...}        one model
//   DELETE /admin/v1/models/{id...}        unload and forget (409 for config models)
//   POST   /admin/v1/models/{id}/load      {"device"?, "wait"?}
//   POST   /admin/v1/models/{id}/unload    running requests finish first
//   POST   /admin/v1/models/{id}/move      {"device"}: cpu, cpu:N, cuda:N, or host (park)
//   GET    /admin/v1/model-files           GGUF files in the model directories
#pragma once

#include "auth/auth_service.hpp"
#include "base/result.hpp"
#include "daemon/http/router.hpp"
#include "models/model_manager.hpp"

namespace llmd::admin {

// `manager` null (check-config): the routes exist and answer 503.
Status install_model_routes(http::Router& router, models::ModelManager* manager, auth::AuthService* auth);

}  // namespace llmd::admin
