// The bridge between the HTTP server and auth/: the authentication hook that runs
// on every route but /healthz and /readyz, the caller it attaches to requests,
// and the admission step API handlers use before doing work.
//
// For an API handler (the OpenAI endpoints) the whole contract is two calls:
//
//   access::admit(auth, ex, {model, prompt_tokens, max_tokens, request id},
//                 [..](auth::Admission admission, http::Headers rate_headers) {
//                   ... hand the work to the engine; on the way out:
//                   admission.finish({status, prompt, completion, cached, queue_wait});
//                 });
//
// admit() answers refused requests itself (403 model_not_allowed, 429
// rate_limit_exceeded / insufficient_quota with Retry-After and x-ratelimit-*,
// 503 server_busy). An Admission dropped without finish() settles as
// `cancelled`, charging the completion tokens passed to record_progress().
#pragma once

#include <functional>
#include <memory>

#include "auth/admission_control.hpp"
#include "auth/auth_service.hpp"
#include "auth/denial.hpp"
#include "auth/principal.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/message.hpp"
#include "daemon/http/server.hpp"

namespace llmd::access {

// What the hook attaches to an authenticated request (Request::principal).
struct Caller final : http::Principal {
  explicit Caller(std::shared_ptr<const auth::Principal> p) : principal(std::move(p)) {}
  std::shared_ptr<const auth::Principal> principal;
};

// The authenticated caller of a request, or null.
std::shared_ptr<const auth::Principal> caller_of(const http::Request& request);

// The hook for http::Server::set_authenticator: 401 for a missing or invalid
// key, 403 for a user key on an admin route, 503 when too many key lookups
// wait; sets the caller and adds "key=<id> team=<name>" to the access log
// line. Never logs the key. A key not in the cache is looked up on `worker`
// (Server::offload), never on the I/O thread.
http::Authenticator make_auth_hook(auth::AuthService& auth, auth::Authenticator::Worker worker);

// The JSON error response for a denial, with Retry-After, x-ratelimit-* and,
// for 401, WWW-Authenticate.
http::Response denial_response(const auth::Denial& denial);

void add_rate_limit_headers(const auth::RateLimitInfo& info, http::Headers* headers);

using Admitted = std::function<void(auth::Admission admission, http::Headers rate_limit_headers)>;

// Admits the authenticated request of `ex` (see the top of this file). `then`
// runs on the ledger's thread (or inline): it must hand the work on quickly and
// never block.
void admit(auth::AuthService& auth, const http::ExchangePtr& ex, auth::AdmissionRequest request, Admitted then);

}  // namespace llmd::access
