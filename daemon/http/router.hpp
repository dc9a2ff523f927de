// Maps method + path to a handler. Patterns are literal segments, "{name}"
// (exactly one non-empty segment) and, as the last segment only, "{name...}"
// (the rest of the path, slashes included: model ids like "org/model").
// When several patterns match, the more literal one wins segment by segment.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "daemon/http/message.hpp"

namespace llmd::http {

class Exchange;
using ExchangePtr = std::shared_ptr<Exchange>;

// Called on an I/O thread (or a worker thread with `offload`) once the whole
// request has been read. It answers through the exchange, now or later, from
// any thread; it must not block (hand long work to another thread).
using Handler = std::function<void(ExchangePtr)>;

// Per-route metadata the server and the authentication step act on.
struct RouteOptions {
  bool auth = true;            // the authenticator runs for this route
  bool admin = false;          // the caller needs the admin role (the authenticator enforces it)
  std::optional<std::size_t> body_limit;  // request body bytes; unset = [limits] body_bytes
  bool offload = false;        // run the handler on the worker pool: it may block briefly (SQLite)
};

struct Route {
  std::string method;
  std::string pattern;
  RouteOptions options;
  Handler handler;
};

class Router {
 public:
  enum class MatchKind { found, not_found, method_not_allowed };

  struct Match {
    MatchKind kind = MatchKind::not_found;
    const Route* route = nullptr;                              // when found
    std::vector<std::pair<std::string, std::string>> params;  // decoded, when found
    std::string allow;                                         // "GET, POST" for 405
  };

  // Fails on a malformed pattern or a duplicate method + pattern.
  Status add(std::string_view method, std::string_view pattern, RouteOptions options, Handler handler);

  // Overrides the body limit of every route with this exact pattern.
  Status set_body_limit(std::string_view pattern, std::size_t bytes);

  Match match(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled;
  std::vector<Route> routes_;
  std::vector<std::shared_ptr<const Compiled>> compiled_;  // parallel to routes_
};

}  // namespace llmd::http
