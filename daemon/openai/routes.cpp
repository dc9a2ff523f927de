#include "daemon/openai/routes.hpp"

#include <sys/stat.h>

#include "auth/denial.hpp"
#include "daemon/access/access.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/openai/json_text.hpp"

namespace llmd::openai {
namespace {

bool visible_to(const http::Request& req, const std::string& id) {
  auto caller = access::caller_of(req);
  return !caller || caller->may_use_model(id);
}

// Every registered model, loaded or not: a request for one that is not
// resident loads it.
void append_model(std::string& out, const models::ModelInfo& m, std::string_view id) {
  struct stat st{};
  const int64_t created = ::stat(m.spec.path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
  out += "{\"id\":";
  append_json_string(out, id);
  out += ",\"object\":\"model\",\"created\":";
  append_json_int(out, created);
  out += ",\"owned_by\":\"llmd\",\"root\":";
  append_json_string(out, m.spec.id);
  if (m.max_context > 0) {
    out += ",\"context_length\":";
    append_json_int(out, m.max_context);
  }
  out += ",\"state\":";
  append_json_string(out, models::to_string(m.state));
  out += '}';
}

}  // namespace

void respond_model_not_found(http::Exchange& ex, std::string_view id) {
  ex.respond_error(404, "The model '" + std::string(id) + "' does not exist or you do not have access to it.",
                   "model_not_found", "model");
}

void handle_list_models(const ApiContext& ctx, const http::ExchangePtr& ex) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const models::ModelInfo& m : ctx.models->list()) {
    if (!visible_to(ex->request(), m.spec.id)) continue;
    if (!first) out += ',';
    first = false;
    append_model(out, m, m.spec.id);
  }
  out += "]}";
  ex->respond(http::Response::json(200, std::move(out)));
}

void handle_get_model(const ApiContext& ctx, const http::ExchangePtr& ex) {
  const std::string id(ex->request().param("id"));
  auto resolved = ctx.models->resolve(id);
  if (!resolved) return respond_model_not_found(*ex, id);
  auto m = ctx.models->info(*resolved);
  if (!m) return respond_model_not_found(*ex, id);
  if (!visible_to(ex->request(), m->spec.id)) {
    auto caller = access::caller_of(ex->request());
    ex->respond(access::denial_response(auth::model_not_allowed_denial(m->spec.id, caller->team)));
    return;
  }
  std::string out;
  append_model(out, *m, id);
  ex->respond(http::Response::json(200, std::move(out)));
}

Status install_openai_routes(http::Router& router, const ApiContext& ctx) {
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
  // Without a model manager (check-config only registers routes) nothing is served.
  auto unavailable = [](http::ExchangePtr ex) {
    ex->respond_error(503, "No models are available.", "model_not_ready");
  };
  const bool live = ctx.models != nullptr;
  const Entry entries[] = {
      {"GET", "/v1/models", plain, [ctx](http::ExchangePtr ex) { handle_list_models(ctx, ex); }},
      {"GET", "/v1/models/{id...}", plain, [ctx](http::ExchangePtr ex) { handle_get_model(ctx, ex); }},
      {"POST", "/v1/chat/completions", heavy,
       [ctx](http::ExchangePtr ex) { handle_completion(ctx, Endpoint::chat, ex); }},
      {"POST", "/v1/completions", heavy,
       [ctx](http::ExchangePtr ex) { handle_completion(ctx, Endpoint::completions, ex); }},
      {"POST", "/v1/embeddings", heavy, [ctx](http::ExchangePtr ex) { handle_embeddings(ctx, ex); }},
      {"GET", "/admin/v1/stats", admin, [ctx](http::ExchangePtr ex) { handle_stats(ctx, ex); }},
  };
  for (const Entry& e : entries) {
    if (Status st = router.add(e.method, e.pattern, e.options, live ? e.handler : http::Handler(unavailable)); !st) {
      return st;
    }
  }
  return ok_status();
}

}  // namespace llmd::openai
