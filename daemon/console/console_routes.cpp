#include "daemon/console/console_routes.hpp"

#include <string>

#include "daemon/console/console_assets.hpp"
#include "daemon/http/exchange.hpp"

namespace llmd::console {
namespace {

// 'unsafe-inline' is absent on purpose: the page has no inline script or
// style element; styles set from script through the CSSOM (the chart
// library sizes its canvas that way) are not governed by style-src.
constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void add_security_headers(http::Headers& h) {
  h.set("content-security-policy", kCsp);
  h.set("x-frame-options", "DENY");
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "no-referrer");
  h.set("cross-origin-opener-policy", "same-origin");
  h.set("cross-origin-resource-policy", "same-origin");
}

http::Response asset_response(std::string_view name) {
  const EmbeddedAsset* a = find_asset(name);
  if (!a) {
    http::Response r = http::Response::text(404, "not found\n");
    add_security_headers(r.headers);
    return r;
  }
  http::Response r = http::Response::text(200, std::string(a->bytes), content_type_for(a->name));
  // Revalidated on each load: a new llmd build serves new files at the same names.
  r.headers.set("cache-control", "no-cache");
  add_security_headers(r.headers);
  return r;
}

}  // namespace

Status install_console_routes(http::Router& router) {
  http::RouteOptions o;
  o.auth = false;  // static files only; the data behind them needs an admin key
  if (Status st = router.add("GET", "/admin", o, [](http::ExchangePtr ex) {
        http::Response r = http::Response::text(308, "see /admin/\n");
        r.headers.set("location", "/admin/");
        add_security_headers(r.headers);
        ex->respond(std::move(r));
      });
      !st) {
    return st;
  }
  if (Status st = router.add("GET", "/admin/", o,
                             [](http::ExchangePtr ex) { ex->respond(asset_response("index.html")); });
      !st) {
    return st;
  }
  return router.add("GET", "/admin/assets/{name}", o, [](http::ExchangePtr ex) {
    ex->respond(asset_response(ex->request().param("name")));
  });
}

}  // namespace llmd::console
