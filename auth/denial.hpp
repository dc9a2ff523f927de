// Denial: why a request is refused, in the terms the HTTP layer needs to answer
// it: status, OpenAI error type and code, a message that never contains the key,
// Retry-After and the rate-limit headers.
//
//   401 invalid_api_key        missing, malformed, unknown, revoked or expired key
//   403 insufficient_permissions  a user key on an admin route
//   403 model_not_allowed      the team may not use this model
//   429 rate_limit_exceeded    RPM / TPM bucket or concurrency cap: retry shortly
//   429 insufficient_quota     daily or monthly token budget used up
//   400 invalid_request_error  nonsensical token counts
//   503 server_busy            the ledger cannot keep up, or too many key lookups wait
//   503 storage_unavailable    the database cannot be read or written (full,
//                              read-only, I/O error, damaged): fail closed, retry later
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "auth/rate_limit_info.hpp"
#include "base/error_code.hpp"

namespace llmd::auth {

struct Denial {
  int http_status = 401;
  std::string type;     // OpenAI error type, e.g. "invalid_request_error"
  std::string code;     // e.g. "invalid_api_key", "rate_limit_exceeded", "insufficient_quota"
  std::string message;
  std::optional<int64_t> retry_after_s;  // for the Retry-After header
  RateLimitInfo limits;                  // for x-ratelimit-* headers

  // All headers the response should carry (Retry-After and x-ratelimit-*).
  HeaderList headers() const;
};

Denial missing_key_denial();
Denial invalid_key_denial(std::string message = "Invalid API key.");
Denial forbidden_denial(std::string message);
Denial model_not_allowed_denial(const std::string& model, const std::string& team);
Denial rate_limited_denial(std::string message, int64_t retry_after_ms, const RateLimitInfo& limits);
Denial insufficient_quota_denial(std::string message, std::optional<int64_t> retry_after_ms);
Denial bad_request_denial(std::string message);
Denial busy_denial();
Denial internal_denial();
// For a failed database read or write: server_busy for storage_busy,
// otherwise storage_unavailable; both 503 with Retry-After.
Denial storage_denial(ErrorCode code);

}  // namespace llmd::auth
