// One line per request at level info:
//   access remote=127.0.0.1:50412 method=GET path=/healthz status=200 bytes=16 ms=0.21 id=req_...
// A request that did not complete normally adds outcome=<why> (client_gone,
// timeout, ...); a pipelined request that the connection closed before
// serving has status=0 outcome=not_served close=<why the connection closed>.
// The query string and headers are never logged (they may carry secrets).
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

namespace llmd::http {

struct AccessRecord {
  std::string_view remote;
  std::string_view method;   // "-" when the request line was unreadable
  std::string_view path;     // without the query
  int status = 0;            // 0 when nothing was sent
  std::size_t bytes = 0;     // response body bytes sent
  std::chrono::steady_clock::duration elapsed{};
  std::string_view id;
  std::string_view outcome;  // empty when completed normally
  std::string_view context;  // Request::log_context and Exchange::log_field()s
};

void write_access_log(const AccessRecord& r);

}  // namespace llmd::http
