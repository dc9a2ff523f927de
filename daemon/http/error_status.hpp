// The one place where an llmd::Error becomes an HTTP answer: its status, the
// OpenAI-shaped error body's "code", and Retry-After for the codes a client
// should retry. Every route that answers an Error from a module below the
// daemon goes through here.
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "daemon/http/message.hpp"

namespace llmd::http {

// 400, 404, 409, 422 (a file the server cannot use), 503 (retry: overload,
// and the database failing, busy, full, read-only or damaged), 507 (memory),
// 500 for the rest.
int http_status(ErrorCode code);

// The body's "code" for an ErrorCode (OpenAI's names where the API has one:
// invalid_value, server_overloaded, ...; otherwise the code's own name).
std::string_view api_error_code(ErrorCode code);

// The whole answer: status, body naming `param` (may be empty), and
// Retry-After (`retry_after_s`, at least 1) on 503. Internal failures and
// storage failures are logged and answered without their message.
Response error_response_for(const Error& e, std::string_view param = {}, int retry_after_s = 1);

}  // namespace llmd::http
