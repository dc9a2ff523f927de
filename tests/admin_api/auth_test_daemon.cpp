// llmd_auth_test_daemon: the real llmd entry point plus one route that goes
// through authentication and admission exactly as an inference handler does:
//
//   POST /test/admit {"model", "prompt_tokens", "max_tokens", "completion_tokens", "hold_ms"}
//     admits (429/403 on refusal), holds the request hold_ms (as a generation
//     would), then settles with completion_tokens and answers 200. A client that
//     goes away meanwhile is settled as cancelled with half the tokens.
#include <boost/json/parse.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "daemon/access/access.hpp"
#include "daemon/app/app.hpp"

namespace {

using namespace llmd;

int64_t field(const boost::json::object& o, const char* name, int64_t fallback) {
  const boost::json::value* v = o.if_contains(name);
  return v && v->is_int64() ? v->as_int64() : fallback;
}

Status install(http::Server& server, const config::Config&, const daemon::Services& services) {
  auth::AuthService* auth = services.auth;
  http::RouteOptions o;  // auth = true: the hook runs first
  return server.router().add("POST", "/test/admit", o, [auth](http::ExchangePtr ex) {
    std::error_code ec;
    boost::json::value body = boost::json::parse(ex->request().body, ec);
    if (ec || !body.is_object() || !auth) return (void)ex->respond_error(400, "bad test request");
    const auto& b = body.as_object();
    auth::AdmissionRequest req;
    const boost::json::value* model = b.if_contains("model");
    req.model = model && model->is_string() ? std::string(model->as_string()) : "test-model";
    req.prompt_tokens = field(b, "prompt_tokens", 10);
    req.max_tokens = field(b, "max_tokens", 10);
    int64_t completion = field(b, "completion_tokens", 5);
    int64_t hold_ms = field(b, "hold_ms", 0);
    access::admit(*auth, ex, req, [ex, completion, hold_ms](auth::Admission adm, http::Headers headers) mutable {
      std::thread([ex, adm = std::move(adm), headers = std::move(headers), completion, hold_ms]() mutable {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(hold_ms);
        while (std::chrono::steady_clock::now() < until) {
          if (ex->aborted()) {
            adm.finish({storage::UsageStatus::cancelled, std::nullopt, completion / 2, 0, std::nullopt});
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        int64_t id = adm.usage_id();
        adm.finish({storage::UsageStatus::ok, std::nullopt, completion, 0, 0});
        http::Response r = http::Response::json(200, "{\"usage_id\":" + std::to_string(id) + "}");
        for (const auto& [k, v] : headers.fields()) r.headers.set(k, v);
        ex->respond(std::move(r));
      }).detach();
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  daemon::AppHooks hooks;
  hooks.install_service_routes = install;
  return daemon::main_entry(argc, argv, hooks);
}
