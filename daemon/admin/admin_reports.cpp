// /admin/v1/usage and /admin/v1/audit handlers.
#include <boost/json/array.hpp>

#include "daemon/admin/admin_handlers.hpp"
#include "daemon/admin/admin_json.hpp"
#include "storage/calendar.hpp"

namespace llmd::admin {

namespace json = boost::json;

namespace {

bool wants_csv(const http::Request& req) {
  if (auto f = req.query_param("format")) return *f == "csv";
  std::string_view accept = req.header("accept");
  return accept.find("text/csv") != std::string_view::npos;
}

}  // namespace

void usage_report(auth::AuthService* auth, http::ExchangePtr ex) {
  const http::Request& req = ex->request();
  storage::UsageQuery q;
  auto non_empty = [](std::optional<std::string> v) { return v && !v->empty() ? v : std::nullopt; };
  q.team = non_empty(req.query_param("team"));
  q.key_id = non_empty(req.query_param("key"));
  q.model = non_empty(req.query_param("model"));
  q.from_day = non_empty(req.query_param("from"));
  q.to_day = non_empty(req.query_param("to"));
  for (auto [value, name] : {std::pair{&q.from_day, "from"}, std::pair{&q.to_day, "to"}}) {
    if (*value && !storage::parse_day(**value)) {
      return (void)ex->respond(bad_request(std::string("'") + name + "' must be a day written YYYY-MM-DD", name));
    }
  }
  if (auto limit = req.query_param("limit")) {
    auto n = parse_count(*limit);
    if (!n || *n < 1 || *n > 100000) return (void)ex->respond(bad_request("'limit' must be 1..100000", "limit"));
    q.limit = *n;
  }
  bool csv = wants_csv(req);
  run_admin(auth, ex, [q, csv](storage::Database& db, auth::AdminService& admin, const std::string&) {
    auto rows = admin.usage(db, q);
    if (!rows) return error_response_for(rows.error());
    if (csv) return http::Response::text(200, usage_csv(*rows), "text/csv; charset=utf-8");
    json::array data;
    for (const auto& r : *rows) data.push_back(usage_json(r));
    return json_response(200, list_json(std::move(data)));
  });
}

void audit_log(auth::AuthService* auth, http::ExchangePtr ex) {
  const http::Request& req = ex->request();
  storage::AuditQuery q;
  struct Param {
    const char* name;
    int64_t max;
  };
  for (Param p : {Param{"since", int64_t{1} << 40}, Param{"before", int64_t{1} << 62}, Param{"limit", 10000}}) {
    auto v = req.query_param(p.name);
    if (!v) continue;
    auto n = parse_count(*v);
    if (!n || *n > p.max) return (void)ex->respond(bad_request(std::string("'") + p.name + "' must be a number", p.name));
    if (std::string_view(p.name) == "since") q.since_ms = *n * 1000;
    else if (std::string_view(p.name) == "before") q.before_id = *n;
    else q.limit = std::max<int64_t>(1, *n);
  }
  run_admin(auth, ex, [q](storage::Database& db, auth::AdminService& admin, const std::string&) {
    auto entries = admin.audit(db, q);
    if (!entries) return error_response_for(entries.error());
    json::array data;
    for (const auto& e : *entries) data.push_back(audit_json(e));
    return json_response(200, list_json(std::move(data)));
  });
}

}  // namespace llmd::admin
