// /admin/v1/keys handlers. The full key appears only in the answers to create
// and rotate; listings and logs show the key id.
#include <boost/json/array.hpp>

#include "daemon/admin/admin_handlers.hpp"
#include "daemon/admin/admin_json.hpp"
#include "storage/key_store.hpp"

namespace llmd::admin {

namespace json = boost::json;

namespace {

constexpr int64_t kMaxSeconds = int64_t{100} * 365 * 86400;  // a century

}  // namespace

void create_key(auth::AuthService* auth, http::ExchangePtr ex) {
  auto body = parse_body(ex->request().body, false);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  if (auto r = only_fields(*body, {"team", "name", "role", "priority", "expires_at", "expires_in_days", "rpm_limit", "tpm_limit"});
      !r) {
    return (void)ex->respond(bad_request(r.error().message));
  }
  auth::KeySpec spec;
  auto team = get_string(*body, "team", true);
  if (!team) return (void)ex->respond(bad_request(team.error().message, "team"));
  auto name = get_string(*body, "name", true);
  if (!name) return (void)ex->respond(bad_request(name.error().message, "name"));
  auto role = get_string(*body, "role", false);
  if (!role) return (void)ex->respond(bad_request(role.error().message, "role"));
  if (!role->empty()) {
    auto parsed = auth::parse_role(*role);
    if (!parsed) return (void)ex->respond(bad_request("'role' must be \"user\" or \"admin\"", "role"));
    spec.role = *parsed;
  }
  auto priority = get_string(*body, "priority", false);
  if (!priority) return (void)ex->respond(bad_request(priority.error().message, "priority"));
  if (!priority->empty()) {
    if (*priority != "interactive" && *priority != "batch") {
      return (void)ex->respond(bad_request("'priority' must be \"interactive\" or \"batch\"", "priority"));
    }
    spec.priority = *priority;
  }
  spec.team = std::move(*team);
  spec.name = std::move(*name);
  auto expires_at = get_int(*body, "expires_at", 1, kMaxSeconds * 2);
  if (!expires_at) return (void)ex->respond(bad_request(expires_at.error().message, "expires_at"));
  auto expires_in = get_int(*body, "expires_in_days", 1, 36500);
  if (!expires_in) return (void)ex->respond(bad_request(expires_in.error().message, "expires_in_days"));
  if (*expires_at && *expires_in) {
    return (void)ex->respond(bad_request("give either 'expires_at' or 'expires_in_days'", "expires_at"));
  }
  auto rpm = get_int(*body, "rpm_limit", 1, int64_t{1} << 50);
  if (!rpm) return (void)ex->respond(bad_request(rpm.error().message, "rpm_limit"));
  auto tpm = get_int(*body, "tpm_limit", 1, int64_t{1} << 50);
  if (!tpm) return (void)ex->respond(bad_request(tpm.error().message, "tpm_limit"));
  spec.rpm_limit = *rpm;
  spec.tpm_limit = *tpm;
  std::optional<int64_t> at_s = *expires_at;
  std::optional<int64_t> in_days = *expires_in;
  run_admin(auth, ex, [spec, at_s, in_days](storage::Database& db, auth::AdminService& admin,
                                            const std::string& actor) mutable {
    const int64_t now = admin.now_ms();
    if (at_s) spec.expires_at = *at_s * 1000;
    if (in_days) spec.expires_at = now + *in_days * 86'400'000;
    auto issued = admin.create_key(db, actor, spec);
    if (!issued) return error_response_for(issued.error());
    http::Response r = json_response(201, issued_key_json(*issued, now));
    r.headers.set("cache-control", "no-store");
    return r;
  });
}

void list_keys(auth::AuthService* auth, http::ExchangePtr ex) {
  std::optional<std::string> team = ex->request().query_param("team");
  if (team && team->empty()) team.reset();
  auto all = ex->request().query_param("include_revoked");
  bool include_revoked = all && (*all == "true" || *all == "1");
  run_admin(auth, ex, [team, include_revoked](storage::Database& db, auth::AdminService& admin, const std::string&) {
    auto keys = admin.list_keys(db, team, include_revoked);
    if (!keys) return error_response_for(keys.error());
    const int64_t now = admin.now_ms();
    json::array data;
    for (const auto& k : *keys) data.push_back(key_json(k, now));
    return json_response(200, list_json(std::move(data)));
  });
}

void get_key(auth::AuthService* auth, http::ExchangePtr ex) {
  std::string id(ex->request().param("id"));
  run_admin(auth, ex, [id](storage::Database& db, auth::AdminService& admin, const std::string&) {
    auto key = storage::find_key(db, id);
    if (!key) return error_response_for(key.error());
    if (!*key) return error_response_for(Error(ErrorCode::key_not_found, "no such key"));
    return json_response(200, key_json(**key, admin.now_ms()));
  });
}

void revoke_key(auth::AuthService* auth, http::ExchangePtr ex) {
  std::string id(ex->request().param("id"));
  run_admin(auth, ex, [id](storage::Database& db, auth::AdminService& admin, const std::string& actor) {
    auto key = admin.revoke_key(db, actor, id);
    if (!key) return error_response_for(key.error());
    return json_response(200, key_json(*key, admin.now_ms()));
  });
}

void rotate_key(auth::AuthService* auth, http::ExchangePtr ex) {
  auto body = parse_body(ex->request().body, true);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  if (auto r = only_fields(*body, {"grace_seconds"}); !r) return (void)ex->respond(bad_request(r.error().message));
  auto grace = get_int(*body, "grace_seconds", 0, kMaxSeconds);
  if (!grace) return (void)ex->respond(bad_request(grace.error().message, "grace_seconds"));
  std::string id(ex->request().param("id"));
  int64_t grace_ms = grace->value_or(0) * 1000;
  run_admin(auth, ex, [id, grace_ms](storage::Database& db, auth::AdminService& admin, const std::string& actor) {
    auto issued = admin.rotate_key(db, actor, id, grace_ms);
    if (!issued) return error_response_for(issued.error());
    json::object o = issued_key_json(*issued, admin.now_ms());
    o["replaces"] = id;
    http::Response r = json_response(201, o);
    r.headers.set("cache-control", "no-store");
    return r;
  });
}

}  // namespace llmd::admin
