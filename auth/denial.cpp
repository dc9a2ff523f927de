#include "auth/denial.hpp"

#include <utility>

namespace llmd::auth {
namespace {

Denial make(int status, const char* type, const char* code, std::string message) {
  Denial d;
  d.http_status = status;
  d.type = type;
  d.code = code;
  d.message = std::move(message);
  return d;
}

}  // namespace

HeaderList Denial::headers() const {
  HeaderList h;
  if (retry_after_s) h.emplace_back("retry-after", std::to_string(*retry_after_s));
  append_rate_limit_headers(limits, &h);
  return h;
}

Denial missing_key_denial() {
  return make(401, "invalid_request_error", "invalid_api_key",
              "No API key provided. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.");
}

Denial invalid_key_denial(std::string message) {
  return make(401, "invalid_request_error", "invalid_api_key", std::move(message));
}

Denial forbidden_denial(std::string message) {
  return make(403, "permission_error", "insufficient_permissions", std::move(message));
}

Denial model_not_allowed_denial(const std::string& model, const std::string& team) {
  return make(403, "permission_error", "model_not_allowed",
              "Team '" + team + "' may not use model '" + model + "'.");
}

Denial rate_limited_denial(std::string message, int64_t retry_after_ms, const RateLimitInfo& limits) {
  Denial d = make(429, "requests", "rate_limit_exceeded", std::move(message));
  d.retry_after_s = retry_after_seconds(retry_after_ms);
  d.limits = limits;
  return d;
}

Denial insufficient_quota_denial(std::string message, std::optional<int64_t> retry_after_ms) {
  Denial d = make(429, "insufficient_quota", "insufficient_quota", std::move(message));
  if (retry_after_ms) d.retry_after_s = retry_after_seconds(*retry_after_ms);
  return d;
}

Denial bad_request_denial(std::string message) {
  return make(400, "invalid_request_error", "invalid_value", std::move(message));
}

Denial busy_denial() {
  Denial d = make(503, "server_error", "server_busy", "The server is busy; retry shortly.");
  d.retry_after_s = 1;
  return d;
}

Denial storage_denial(ErrorCode code) {
  if (code == ErrorCode::storage_busy) return busy_denial();
  Denial d = make(503, "server_error", "storage_unavailable",
                  "The server cannot use its database right now; retry later.");
  d.retry_after_s = 5;
  return d;
}

Denial internal_denial() {
  return make(500, "server_error", "internal_error", "Internal error while checking the request; retry later.");
}

}  // namespace llmd::auth
