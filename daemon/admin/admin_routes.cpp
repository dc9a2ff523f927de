#include "daemon/admin/admin_routes.hpp"

#include <exception>

#include "daemon/access/access.hpp"
#include "daemon/admin/admin_handlers.hpp"
#include "base/log.hpp"

namespace llmd::admin {

void run_admin(auth::AuthService* auth, const http::ExchangePtr& ex, AdminWork work) {
  auto caller = access::caller_of(ex->request());
  if (!auth || !caller) {
    ex->respond_error(503, "the admin API is not available", "server_busy");
    return;
  }
  std::string actor = "key:" + caller->key_id;
  auth->post_admin([auth, ex, work = std::move(work), actor = std::move(actor)](storage::Database& db) {
    if (ex->aborted()) return;
    try {
      ex->respond(work(db, auth->admin(), actor));
    } catch (const std::exception& e) {
      log::errorf("admin: request %s failed: %s", ex->request().id.c_str(), e.what());
      ex->respond_error(500, "internal error; see the server log", "internal_error");
    }
  });
}

Status install_admin_routes(http::Router& router, auth::AuthService* auth) {
  http::RouteOptions o;
  o.auth = true;
  o.admin = true;
  o.body_limit = 64 * 1024;
  struct Entry {
    const char* method;
    const char* pattern;
    void (*handler)(auth::AuthService*, http::ExchangePtr);
  };
  const Entry entries[] = {
      {"POST", "/admin/v1/teams", create_team},
      {"GET", "/admin/v1/teams", list_teams},
      {"GET", "/admin/v1/teams/{name}", get_team},
      {"PATCH", "/admin/v1/teams/{name}", update_team},
      {"DELETE", "/admin/v1/teams/{name}", delete_team},
      {"POST", "/admin/v1/keys", create_key},
      {"GET", "/admin/v1/keys", list_keys},
      {"GET", "/admin/v1/keys/{id}", get_key},
      {"DELETE", "/admin/v1/keys/{id}", revoke_key},
      {"POST", "/admin/v1/keys/{id}/rotate", rotate_key},
      {"GET", "/admin/v1/usage", usage_report},
      {"GET", "/admin/v1/audit", audit_log},
  };
  for (const Entry& e : entries) {
    auto fn = e.handler;
    if (auto st = router.add(e.method, e.pattern, o, [auth, fn](http::ExchangePtr ex) { fn(auth, std::move(ex)); });
        !st) {
      return st;
    }
  }
  return ok_status();
}

}  // namespace llmd::admin
