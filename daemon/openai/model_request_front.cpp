#include "daemon/openai/model_request_front.hpp"

#include <memory>
#include <thread>

#include "daemon/access/access.hpp"
#include "daemon/http/error_status.hpp"
#include "models/model_manager.hpp"

namespace llmd::openai {

std::optional<std::string> front_of_model_request(const ApiContext& ctx, const http::ExchangePtr& ex,
                                                  std::string_view endpoint, const std::string& model,
                                                  std::optional<scheduler::Priority>* priority) {
  if (const std::string_view p = ex->request().header("llmd-priority"); !p.empty()) {
    scheduler::Priority header_priority;
    if (!scheduler::parse_priority(p, &header_priority)) {
      ex->respond_error(400, "The llmd-priority header must be \"interactive\" or \"batch\".", "invalid_value",
                        "llmd-priority");
      return std::nullopt;
    }
    *priority = header_priority;
  }
  auto id = ctx.models->resolve(model);
  if (!id) {
    respond_model_not_found(*ex, model);
    return std::nullopt;
  }
  ex->log_field("model", *id);
  ex->set_metric_labels(endpoint, *id);
  if (auto caller = access::caller_of(ex->request())) {
    std::optional<auth::Denial> denial;
    if (ctx.auth) {
      denial = ctx.auth->admissions().precheck(*caller, *id);
    } else if (!caller->may_use_model(*id)) {
      denial = auth::model_not_allowed_denial(*id, caller->team);
    }
    if (denial) {
      ex->set_metric_refusal(denial->code);
      ex->respond(access::denial_response(*denial));
      return std::nullopt;
    }
  }
  return id;
}

void with_model_lease(const ApiContext& ctx, const http::ExchangePtr& ex, const std::string& id,
                      std::function<void(models::Lease)> run, std::function<void()> tick) {
  const std::thread::id here = std::this_thread::get_id();
  auto on_model = [ctx, ex, here, run = std::move(run)](Result<models::Lease> lease) mutable {
    if (!lease) {
      const Error& e = lease.error();
      if (e.code == ErrorCode::model_failed) {
        // The request is fine; the server cannot run the model (an admin sees why).
        ex->respond(http::error_response(503, e.message, "model_failed"));
        return;
      }
      ex->respond(http::error_response_for(e, e.code == ErrorCode::model_not_found ? "model" : ""));
      return;
    }
    if (std::this_thread::get_id() == here) return run(std::move(*lease));
    auto held = std::make_shared<models::Lease>(std::move(*lease));
    ctx.offload([run = std::move(run), held]() mutable { run(std::move(*held)); });
  };
  const models::ModelManager::Ticket ticket = ctx.models->acquire(id, std::move(on_model), std::move(tick));
  if (ticket != 0) {
    ex->on_done([models = ctx.models, ticket](http::Outcome outcome) {
      if (outcome != http::Outcome::completed) models->cancel(ticket);
    });
  }
}

}  // namespace llmd::openai
