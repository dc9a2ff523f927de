// The web admin console under /admin/ (see docs/ADMIN.md):
//
//   GET /admin                  308 to /admin/
//   GET /admin/                 the single page (index.html)
//   GET /admin/assets/{name}    its scripts and styles
//
// These routes serve only the embedded static files and need no key: the
// page signs in with an admin key it keeps in sessionStorage and calls the
// admin REST API (/admin/v1/, admin role enforced there) with it as a Bearer
// header. Every answer carries a strict Content-Security-Policy (scripts,
// styles and connections to this origin only, no inline script, no
// framing), X-Frame-Options: DENY, nosniff and no-referrer.
#pragma once

#include "base/result.hpp"
#include "daemon/http/router.hpp"

namespace llmd::console {

Status install_console_routes(http::Router& router);

}  // namespace llmd::console
