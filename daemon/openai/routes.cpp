#include "daemon/openai/routes.hpp"

#include "auth/denial.hpp"
#include "daemon/access/access.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/openai/json_text.hpp"

namespace llmd::openai {
namespace {

bool visible_to(const http::Request& req, const ServedModel& m) {
  auto caller = access::caller_of(req);
  return !caller || caller->may_use_model(m.id);
}

void append_model(std::string& out, const ServedModel& m, std::string_view id) {
  out += "{\"id\":";
  append_json_string(out, id);
  out += ",\"object\":\"model\",\"created\":";
  append_json_int(out, m.created);
  out += ",\"owned_by\":\"llmd\",\"root\":";
  append_json_string(out, m.id);
  out += ",\"context_length\":";
  append_json_int(out, m.max_context);
  out += '}';
}

}  // namespace

void respond_model_not_found(http::Exchange& ex, std::string_view id) {
  ex.respond_error(404, "The model '" + std::string(id) + "' does not exist or you do not have access to it.",
                   "model_not_found", "model");
}

bool respond_if_loading(const ApiContext& ctx, http::Exchange& ex) {
  if (ctx.models->ready()) return false;
  http::Response r = http::error_response(503, "llmd is starting: the models are still loading.", "models_loading");
  r.headers.set("retry-after", "1");
  ex.respond(std::move(r));
  return true;
}

void handle_list_models(const ApiContext& ctx, const http::ExchangePtr& ex) {
  if (respond_if_loading(ctx, *ex)) return;
  std::string out = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const ServedModel* m : ctx.models->list()) {
    if (!visible_to(ex->request(), *m)) continue;
    if (!first) out += ',';
    first = false;
    append_model(out, *m, m->id);
  }
  out += "]}";
  ex->respond(http::Response::json(200, std::move(out)));
}

void handle_get_model(const ApiContext& ctx, const http::ExchangePtr& ex) {
  if (respond_if_loading(ctx, *ex)) return;
  const std::string id(ex->request().param("id"));
  const ServedModel* m = ctx.models->find(id);
  if (!m) return respond_model_not_found(*ex, id);
  if (!visible_to(ex->request(), *m)) {
    auto caller = access::caller_of(ex->request());
    ex->respond(access::denial_response(auth::model_not_allowed_denial(m->id, caller->team)));
    return;
  }
  std::string out;
  append_model(out, *m, id);
  ex->respond(http::Response::json(200, std::move(out)));
}

Status install_openai_routes(http::Router& router, const ApiContext& context) {
  // Without models (check-config only registers routes) lookups find nothing.
  static const ModelRegistry no_models;
  ApiContext ctx = context;
  if (!ctx.models) ctx.models = &no_models;
  http::RouteOptions plain;
  // Completions tokenize the prompt (and render the chat template) in the
  // handler: CPU work that must not hold up an I/O thread's other connections.
  http::RouteOptions heavy;
  heavy.offload = true;
  http::RouteOptions admin;
  admin.admin = true;
  struct Entry {
    const char* method;
    const char* pattern;
    http::RouteOptions options;
    http::Handler handler;
  };
  const Entry entries[] = {
      {"GET", "/v1/models", plain, [ctx](http::ExchangePtr ex) { handle_list_models(ctx, ex); }},
      {"GET", "/v1/models/{id...}", plain, [ctx](http::ExchangePtr ex) { handle_get_model(ctx, ex); }},
      {"POST", "/v1/chat/completions", heavy,
       [ctx](http::ExchangePtr ex) { handle_completion(ctx, Endpoint::chat, ex); }},
      {"POST", "/v1/completions", heavy,
       [ctx](http::ExchangePtr ex) { handle_completion(ctx, Endpoint::completions, ex); }},
      {"GET", "/admin/v1/stats", admin, [ctx](http::ExchangePtr ex) { handle_stats(ctx, ex); }},
  };
  for (const Entry& e : entries) {
    if (Status st = router.add(e.method, e.pattern, e.options, e.handler); !st) return st;
  }
  return ok_status();
}

}  // namespace llmd::openai
