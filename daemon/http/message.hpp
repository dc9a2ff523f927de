// HTTP request and response values handed to and returned by route handlers.
// Deliberately free of Boost: handler code (OpenAI API, admin API) includes
// only this header, the router and the exchange, never the network stack.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmd::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // First value of `name`, or empty when absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  // Replaces every field called `name` with one field.
  void set(std::string_view name, std::string_view value);
  // Appends a field (repeated fields are allowed).
  void add(std::string_view name, std::string_view value);
  void remove(std::string_view name);

  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

bool iequals(std::string_view a, std::string_view b);

// Whatever the authentication step learned about the caller (a key, a team,
// a role). The authenticator attaches a subclass; handlers read it back with
// Request::principal_as<T>().
struct Principal {
  virtual ~Principal() = default;
};

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // request-target as received: path and query
  std::string path;     // target up to '?', not decoded
  std::string query;    // after '?', not decoded; empty when absent
  int version = 11;     // 10 or 11 (HTTP/1.0, HTTP/1.1)
  Headers headers;
  std::string body;

  std::vector<std::pair<std::string, std::string>> params;  // path parameters, percent-decoded
  std::string route;    // the matched route pattern, e.g. "/v1/models/{id}"
  std::string id;       // x-request-id of this exchange
  std::string remote;   // peer address: "127.0.0.1:50412", "[::1]:50412" or "unix"
  std::chrono::steady_clock::time_point received{};  // when the request line arrived

  std::shared_ptr<const Principal> principal;  // set by the authenticator, may be null
  // Extra "key=value" pairs appended to this request's access-log line (for
  // example the key id and team). Never put secrets here.
  std::string log_context;

  std::string_view header(std::string_view name) const { return headers.get(name); }
  // Value of the path parameter `name` ("{id}" in the pattern), or empty.
  std::string_view param(std::string_view name) const;
  // First value of the query parameter `name`, percent- and '+'-decoded.
  std::optional<std::string> query_param(std::string_view name) const;

  template <typename T>
  const T* principal_as() const {
    return dynamic_cast<const T*>(principal.get());
  }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");
};

// OpenAI's error "type" for an HTTP status: 400 invalid_request_error,
// 401 authentication_error, 403 permission_error, 404 not_found_error,
// 429 rate_limit_error, 5xx server_error, ...
std::string_view error_type_for(int status);

// {"error":{"message":...,"type":...,"param":...,"code":...}} with
// content-type application/json. Empty code/param become null; an empty type
// becomes error_type_for(status).
Response error_response(int status, std::string_view message, std::string_view code = {},
                        std::string_view param = {}, std::string_view type = {});

// Standard reason phrase ("Not Found"); "Unknown" for unregistered codes.
std::string_view reason_phrase(int status);

// Percent-decoding of a path segment or query component. Returns nullopt for
// a malformed escape. With plus_as_space, '+' decodes to ' '.
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space);

}  // namespace llmd::http
