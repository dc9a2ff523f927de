// JSON (and CSV) for the admin REST API: rendering records, reading request
// bodies strictly (unknown fields and wrong types are 400s naming the field), and
// turning storage/auth errors into HTTP answers. Times are Unix seconds.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/admin_service.hpp"
#include "daemon/http/message.hpp"
#include "base/result.hpp"
#include "storage/audit_log.hpp"
#include "storage/key_store.hpp"
#include "storage/team_store.hpp"
#include "storage/usage_report.hpp"

namespace llmd::admin {

boost::json::object team_json(const storage::TeamRecord& team);
boost::json::object team_view_json(const auth::TeamView& view);
// `now_ms` decides the reported status: active, expired or revoked.
boost::json::object key_json(const storage::KeyRecord& key, int64_t now_ms);
boost::json::object issued_key_json(const auth::IssuedKey& issued, int64_t now_ms);
boost::json::object usage_json(const storage::UsageSummary& row);
boost::json::object audit_json(const storage::AuditEntry& entry);
std::string usage_csv(const std::vector<storage::UsageSummary>& rows);

// {"object":"list","data":[...]}
boost::json::object list_json(boost::json::array data);
http::Response json_response(int status, const boost::json::value& body);
// Maps an Error from auth/storage to a status: *_not_found 404, *_exists 409,
// *_invalid 400, storage_busy 503, anything else 500 (details only in the log).
http::Response error_response_for(const Error& error);
http::Response bad_request(std::string message, std::string_view param = {});

// A request body that must be a JSON object (an empty body is {} when allowed).
Result<boost::json::object> parse_body(std::string_view body, bool empty_ok);

// Applies the team fields present in `body` to `limits`: weight, rpm_limit,
// tpm_limit, daily_token_budget, monthly_token_budget, max_concurrent,
// allowed_models (null clears a limit). `allowed` lists the other fields the
// caller accepts; anything else is an error naming the field (code admin_field).
Status read_team_fields(const boost::json::object& body, storage::TeamLimits* limits,
                        const std::vector<std::string_view>& allowed);

// Field readers; each fails with a message naming the field.
Result<std::string> get_string(const boost::json::object& body, std::string_view field, bool required);
Result<std::optional<int64_t>> get_int(const boost::json::object& body, std::string_view field, int64_t min,
                                       int64_t max);
// Absent or null: `def`.
Result<bool> get_bool(const boost::json::object& body, std::string_view field, bool def);
Status only_fields(const boost::json::object& body, const std::vector<std::string_view>& allowed);

// Parses a non-negative decimal integer query value.
std::optional<int64_t> parse_count(std::string_view text);

}  // namespace llmd::admin
