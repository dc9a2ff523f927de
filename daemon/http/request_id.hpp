// x-request-id values: the client's own when it is sane, else a fresh one.
#pragma once

#include <string>
#include <string_view>

namespace llmd::http {

// "req_" + 16 hex digits; unique within the process, unpredictable across runs.
std::string new_request_id();

// 1..128 characters of A-Z a-z 0-9 . _ - : (safe to echo and to log).
bool acceptable_request_id(std::string_view id);

}  // namespace llmd::http
