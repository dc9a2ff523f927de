#include "daemon/admin/admin_json.hpp"

#include "daemon/http/error_status.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "base/log.hpp"

namespace llmd::admin {
namespace json = boost::json;
namespace {

json::value opt(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt_seconds(const std::optional<int64_t>& ms) {
  return ms ? json::value(*ms / 1000) : json::value(nullptr);
}


// CSV field: quoted when it holds a separator, quote or line break; a leading
// character that spreadsheets treat as a formula is neutralised with a quote.
std::string csv_field(std::string_view s) {
  std::string v(s);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v.insert(v.begin(), '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

json::object team_json(const storage::TeamRecord& t) {
  json::object o;
  o["object"] = "team";
  o["name"] = t.name;
  // Whole weights print as integers ("2", not "2E0").
  double w = t.limits.weight;
  if (std::floor(w) == w && std::fabs(w) < 1e15) o["weight"] = static_cast<int64_t>(w);
  else o["weight"] = w;
  o["rpm_limit"] = opt(t.limits.rpm_limit);
  o["tpm_limit"] = opt(t.limits.tpm_limit);
  o["daily_token_budget"] = opt(t.limits.daily_token_budget);
  o["monthly_token_budget"] = opt(t.limits.monthly_token_budget);
  o["max_concurrent"] = opt(t.limits.max_concurrent);
  json::array models;
  for (const auto& m : t.limits.allowed_models) models.emplace_back(m);
  o["allowed_models"] = std::move(models);
  o["created_at"] = t.created_at / 1000;
  o["updated_at"] = t.updated_at / 1000;
  return o;
}

json::object team_view_json(const auth::TeamView& v) {
  json::object o = team_json(v.team);
  o["active_keys"] = v.active_keys;
  auto budget = [](const storage::BudgetState& b) {
    json::object x;
    x["period"] = b.period;
    x["budget"] = opt(b.budget);
    x["used"] = b.used;
    x["reserved"] = b.reserved;
    x["remaining"] = opt(b.remaining());
    x["resets_at"] = b.ends_at_ms / 1000;
    return x;
  };
  o["today"] = budget(v.budget.day);
  o["this_month"] = budget(v.budget.month);
  return o;
}

json::object key_json(const storage::KeyRecord& k, int64_t now_ms) {
  json::object o;
  o["object"] = "api_key";
  o["id"] = k.key_id;
  o["team"] = k.team_name;
  o["name"] = k.name;
  o["role"] = k.role;
  o["priority"] = k.priority;
  const char* status = "active";
  if (k.revoked_at) status = "revoked";
  else if (k.expires_at && *k.expires_at <= now_ms) status = "expired";
  o["status"] = status;
  o["rpm_limit"] = opt(k.rpm_limit);
  o["tpm_limit"] = opt(k.tpm_limit);
  o["created_at"] = k.created_at / 1000;
  o["expires_at"] = opt_seconds(k.expires_at);
  o["revoked_at"] = opt_seconds(k.revoked_at);
  o["last_used_at"] = opt_seconds(k.last_used_at);
  return o;
}

json::object issued_key_json(const auth::IssuedKey& issued, int64_t now_ms) {
  json::object o = key_json(issued.record, now_ms);
  o["key"] = issued.key;
  return o;
}

json::object usage_json(const storage::UsageSummary& r) {
  json::object o;
  o["day"] = r.day;
  o["team"] = r.team;
  o["key_id"] = r.key_id;
  o["key_name"] = r.key_name;
  o["model"] = r.model;
  o["requests"] = r.requests;
  o["ok"] = r.ok;
  o["errors"] = r.errors;
  o["cancelled"] = r.cancelled;
  o["interrupted"] = r.interrupted;
  o["in_flight"] = r.open;
  o["prompt_tokens"] = r.prompt_tokens;
  o["completion_tokens"] = r.completion_tokens;
  o["cached_tokens"] = r.cached_tokens;
  o["total_tokens"] = r.charged_tokens;
  o["queue_wait_ms"] = r.queue_wait_ms_total;
  return o;
}

std::string usage_csv(const std::vector<storage::UsageSummary>& rows) {
  std::string out =
      "day,team,key_id,key_name,model,requests,ok,errors,cancelled,interrupted,in_flight,prompt_tokens,"
      "completion_tokens,cached_tokens,total_tokens,queue_wait_ms\r\n";
  for (const auto& r : rows) {
    out += csv_field(r.day) + ',' + csv_field(r.team) + ',' + csv_field(r.key_id) + ',' + csv_field(r.key_name) +
           ',' + csv_field(r.model);
    for (int64_t v : {r.requests, r.ok, r.errors, r.cancelled, r.interrupted, r.open, r.prompt_tokens,
                      r.completion_tokens, r.cached_tokens, r.charged_tokens, r.queue_wait_ms_total}) {
      out += ',' + std::to_string(v);
    }
    out += "\r\n";
  }
  return out;
}

json::object audit_json(const storage::AuditEntry& e) {
  json::object o;
  o["id"] = e.id;
  o["at"] = e.at / 1000;
  o["actor"] = e.actor;
  o["action"] = e.action;
  o["target"] = e.target;
  o["detail"] = e.detail;
  return o;
}

json::object list_json(json::array data) {
  json::object o;
  o["object"] = "list";
  o["data"] = std::move(data);
  return o;
}

http::Response json_response(int status, const json::value& body) {
  return http::Response::json(status, json::serialize(body));
}

http::Response bad_request(std::string message, std::string_view param) {
  return http::error_response(400, message, "invalid_value", param);
}

http::Response error_response_for(const Error& e) { return http::error_response_for(e); }

Result<json::object> parse_body(std::string_view body, bool empty_ok) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (empty_ok) return json::object();
    return Error(ErrorCode::admin_field, "the request needs a JSON object body");
  }
  std::error_code ec;
  json::parse_options po;
  po.max_depth = 16;
  json::value v = json::parse(body, ec, {}, po);
  if (ec) return Error(ErrorCode::admin_field, "the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return Error(ErrorCode::admin_field, "the body must be a JSON object");
  return std::move(v.as_object());
}

Status only_fields(const json::object& body, const std::vector<std::string_view>& allowed) {
  for (const auto& kv : body) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(kv.key())) == allowed.end()) {
      return Error(ErrorCode::admin_field, "unknown field '" + std::string(kv.key().substr(0, 64)) + "'");
    }
  }
  return ok_status();
}

Result<std::string> get_string(const json::object& body, std::string_view field, bool required) {
  const json::value* v = body.if_contains(field);
  if (!v || v->is_null()) {
    if (required) return Error(ErrorCode::admin_field, "'" + std::string(field) + "' is required");
    return std::string();
  }
  if (!v->is_string()) return Error(ErrorCode::admin_field, "'" + std::string(field) + "' must be a string");
  return std::string(v->as_string());
}

Result<std::optional<int64_t>> get_int(const json::object& body, std::string_view field, int64_t min, int64_t max) {
  const json::value* v = body.if_contains(field);
  if (!v || v->is_null()) return std::optional<int64_t>();
  int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    n = static_cast<int64_t>(v->as_uint64());
  } else if (v->is_double() && std::nearbyint(v->as_double()) == v->as_double() &&
             std::fabs(v->as_double()) < 9e15) {
    n = static_cast<int64_t>(v->as_double());
  } else {
    return Error(ErrorCode::admin_field, "'" + std::string(field) + "' must be an integer");
  }
  if (n < min || n > max) {
    return Error(ErrorCode::admin_field, "'" + std::string(field) + "' must be between " + std::to_string(min) + " and " +
                                    std::to_string(max));
  }
  return std::optional<int64_t>(n);
}

Status read_team_fields(const json::object& body, storage::TeamLimits* limits,
                        const std::vector<std::string_view>& allowed) {
  std::vector<std::string_view> fields = allowed;
  for (std::string_view f : {"weight", "rpm_limit", "tpm_limit", "daily_token_budget", "monthly_token_budget",
                             "max_concurrent", "allowed_models"}) {
    fields.push_back(f);
  }
  if (auto r = only_fields(body, fields); !r) return r;
  if (const json::value* w = body.if_contains("weight")) {
    if (!w->is_number()) return Error(ErrorCode::admin_field, "'weight' must be a number");
    limits->weight = w->to_number<double>();
  }
  constexpr int64_t kMax = int64_t{1} << 50;
  struct Limit {
    const char* name;
    std::optional<int64_t>* target;
    int64_t min;
  };
  const Limit ints[] = {{"rpm_limit", &limits->rpm_limit, 1},
                        {"tpm_limit", &limits->tpm_limit, 1},
                        {"daily_token_budget", &limits->daily_token_budget, 0},
                        {"monthly_token_budget", &limits->monthly_token_budget, 0},
                        {"max_concurrent", &limits->max_concurrent, 1}};
  for (const Limit& l : ints) {
    if (!body.contains(l.name)) continue;
    auto v = get_int(body, l.name, l.min, kMax);
    if (!v) return v.take_error();
    *l.target = *v;  // null clears the limit
  }
  if (const json::value* m = body.if_contains("allowed_models")) {
    limits->allowed_models.clear();
    if (!m->is_null()) {
      if (!m->is_array()) return Error(ErrorCode::admin_field, "'allowed_models' must be an array of model names");
      for (const json::value& item : m->as_array()) {
        if (!item.is_string()) return Error(ErrorCode::admin_field, "'allowed_models' must be an array of model names");
        limits->allowed_models.emplace_back(item.as_string());
      }
    }
  }
  return storage::validate_team_limits(*limits);
}

std::optional<int64_t> parse_count(std::string_view text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

Result<bool> get_bool(const boost::json::object& body, std::string_view field, bool def) {
  const boost::json::value* v = body.if_contains(field);
  if (!v || v->is_null()) return def;
  if (!v->is_bool()) return Error(ErrorCode::invalid_argument, "Invalid '" + std::string(field) + "': must be true or false");
  return v->as_bool();
}

}  // namespace llmd::admin
