#include "daemon/access/access.hpp"

#include <string>

namespace llmd::access {

std::shared_ptr<const auth::Principal> caller_of(const http::Request& request) {
  const Caller* c = request.principal_as<Caller>();
  return c ? c->principal : nullptr;
}

void add_rate_limit_headers(const auth::RateLimitInfo& info, http::Headers* headers) {
  auth::HeaderList list;
  auth::append_rate_limit_headers(info, &list);
  for (auto& [name, value] : list) headers->set(name, value);
}

http::Response denial_response(const auth::Denial& d) {
  http::Response r = http::error_response(d.http_status, d.message, d.code, {}, d.type);
  for (auto& [name, value] : d.headers()) r.headers.set(name, value);
  if (d.http_status == 401) r.headers.set("www-authenticate", "Bearer realm=\"llmd\"");
  return r;
}

namespace {

http::AuthVerdict to_verdict(const auth::AuthResult& r, bool admin_route) {
  http::AuthVerdict v;
  if (!r.ok()) {
    v.denied = denial_response(*r.denial);
    return v;
  }
  v.log_context = "key=" + r.principal->key_id + " team=" + r.principal->team;
  if (admin_route) {
    if (auto denied = auth::require_role(*r.principal, auth::Role::admin)) {
      v.denied = denial_response(*denied);
      return v;
    }
  }
  v.principal = std::make_shared<Caller>(r.principal);
  return v;
}

}  // namespace

http::Authenticator make_auth_hook(auth::AuthService& auth, auth::Authenticator::Worker worker) {
  return [&auth, worker = std::move(worker)](const http::Request& req, const http::RouteOptions& route,
                                             http::AuthLater later) -> std::optional<http::AuthVerdict> {
    auto header = [&](std::string_view name) -> std::optional<std::string_view> {
      if (!req.headers.has(name)) return std::nullopt;
      return req.headers.get(name);
    };
    const bool admin_route = route.admin;
    auto now = auth.authenticator().authenticate_async(
        header("authorization"), header("x-api-key"), worker,
        [admin_route, later = std::move(later)](auth::AuthResult r) { later(to_verdict(r, admin_route)); });
    if (!now) return std::nullopt;
    return to_verdict(*now, admin_route);
  };
}

void admit(auth::AuthService& auth, const http::ExchangePtr& ex, auth::AdmissionRequest request, Admitted then) {
  auto principal = caller_of(ex->request());
  if (!principal) {
    ex->respond(denial_response(auth::missing_key_denial()));
    return;
  }
  if (request.request_id.empty()) request.request_id = ex->request().id;
  auth.admissions().admit(std::move(principal), std::move(request),
                          [ex, then = std::move(then)](auth::AdmissionResult result) mutable {
                            if (!result.admitted()) {
                              ex->set_metric_refusal(result.denial->code);
                              http::Response r = denial_response(*result.denial);
                              add_rate_limit_headers(result.limits, &r.headers);
                              ex->respond(std::move(r));
                              return;
                            }
                            http::Headers headers;
                            add_rate_limit_headers(result.limits, &headers);
                            then(std::move(result.admission), std::move(headers));
                          });
}

}  // namespace llmd::access
