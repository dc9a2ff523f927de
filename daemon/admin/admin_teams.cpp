// /admin/v1/teams handlers.
#include <boost/json/array.hpp>

#include "daemon/admin/admin_handlers.hpp"
#include "daemon/admin/admin_json.hpp"

namespace llmd::admin {

namespace json = boost::json;

void create_team(auth::AuthService* auth, http::ExchangePtr ex) {
  auto body = parse_body(ex->request().body, false);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  auto name = get_string(*body, "name", true);
  if (!name) return (void)ex->respond(bad_request(name.error().message, "name"));
  storage::TeamLimits limits;
  if (auto r = read_team_fields(*body, &limits, {"name"}); !r) return (void)ex->respond(bad_request(r.error().message));
  run_admin(auth, ex, [name = *name, limits](storage::Database& db, auth::AdminService& admin, const std::string& actor) {
    auto team = admin.create_team(db, actor, name, limits);
    if (!team) return error_response_for(team.error());
    return json_response(201, team_json(*team));
  });
}

void list_teams(auth::AuthService* auth, http::ExchangePtr ex) {
  run_admin(auth, ex, [](storage::Database& db, auth::AdminService& admin, const std::string&) {
    auto teams = admin.list_teams(db);
    if (!teams) return error_response_for(teams.error());
    json::array data;
    for (const auto& t : *teams) data.push_back(team_json(t));
    return json_response(200, list_json(std::move(data)));
  });
}

void get_team(auth::AuthService* auth, http::ExchangePtr ex) {
  std::string name(ex->request().param("name"));
  run_admin(auth, ex, [name](storage::Database& db, auth::AdminService& admin, const std::string&) {
    auto view = admin.get_team(db, name);
    if (!view) return error_response_for(view.error());
    return json_response(200, team_view_json(*view));
  });
}

void update_team(auth::AuthService* auth, http::ExchangePtr ex) {
  auto body = parse_body(ex->request().body, false);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  if (auto r = only_fields(*body, {"weight", "rpm_limit", "tpm_limit", "daily_token_budget", "monthly_token_budget",
                                   "max_concurrent", "allowed_models"});
      !r) {
    return (void)ex->respond(bad_request(r.error().message));
  }
  std::string name(ex->request().param("name"));
  run_admin(auth, ex, [name, body = std::move(*body)](storage::Database& db, auth::AdminService& admin,
                                                      const std::string& actor) {
    auto view = admin.get_team(db, name);
    if (!view) return error_response_for(view.error());
    storage::TeamLimits limits = view->team.limits;  // only the fields present change
    if (auto r = read_team_fields(body, &limits, {}); !r) return bad_request(r.error().message);
    auto team = admin.update_team(db, actor, name, limits);
    if (!team) return error_response_for(team.error());
    return json_response(200, team_json(*team));
  });
}

void delete_team(auth::AuthService* auth, http::ExchangePtr ex) {
  std::string name(ex->request().param("name"));
  run_admin(auth, ex, [name](storage::Database& db, auth::AdminService& admin, const std::string& actor) {
    if (auto r = admin.delete_team(db, actor, name); !r) return error_response_for(r.error());
    json::object o;
    o["object"] = "team";
    o["name"] = name;
    o["deleted"] = true;
    return json_response(200, o);
  });
}

}  // namespace llmd::admin
