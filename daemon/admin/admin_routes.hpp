// The admin REST API under /admin/v1/ (admin keys only):
//
//   POST   /admin/v1/teams                 {"name", "weight", limits...}   201 team
//   GET    /admin/v1/teams                                                 200 list
//   GET    /admin/v1/teams/{name}          with today's and this month's budget use
//   PATCH  /admin/v1/teams/{name}          {fields to change; null clears} 200 team
//   DELETE /admin/v1/teams/{name}          revokes its keys                200
//   POST   /admin/v1/keys                  {"team", "name", "role", "expires_at"|"expires_in_days",
//                                           "rpm_limit", "tpm_limit"}      201 {"id", "key", ...}
//   GET    /admin/v1/keys[?team=&include_revoked=true]                     200 list (never secrets)
//   GET    /admin/v1/keys/{id}
//   DELETE /admin/v1/keys/{id}             revokes                         200 key
//   POST   /admin/v1/keys/{id}/rotate      {"grace_seconds"}               201 {"id", "key", "replaces"}
//   GET    /admin/v1/usage[?team=&key=&model=&from=&to=&limit=]            200 rows; CSV with Accept: text/csv
//   GET    /admin/v1/audit[?since=&before=&limit=]                         200 newest first
//
// Handlers parse on the I/O thread and run their database work on the
// AuthService's admin thread, answering from there.
#pragma once

#include "auth/auth_service.hpp"
#include "daemon/http/router.hpp"
#include "base/result.hpp"

namespace llmd::admin {

// `auth` may be null when the routes are only registered to be checked
// (check-config); such a server must not serve.
Status install_admin_routes(http::Router& router, auth::AuthService* auth);

}  // namespace llmd::admin
