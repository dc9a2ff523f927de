// The HTTPS front end: TLS listener (and an optional plain-HTTP unix-socket
// listener), N I/O threads, one strand per connection, the router, the
// authentication hook, /healthz and /readyz, drain and stop. The network
// stack stays inside server.cpp and session.cpp; this header is light.
//
// Life cycle: create() -> router().add(...) / set_authenticator(...) ->
// start() -> set_ready(true) -> ... -> begin_drain() -> wait_idle() -> stop().
// Whoever posts into exchanges from other threads (the engine) must stop
// doing so before the Server is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config/config.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/message.hpp"
#include "daemon/http/router.hpp"
#include "base/result.hpp"

namespace llmd::http {

// What an authenticator decided about a request.
struct AuthVerdict {
  std::optional<Response> denied;             // refuse the request with this (401, 403, 429, 503, ...)
  std::shared_ptr<const Principal> principal; // otherwise: the caller, for Request::principal
  std::string log_context;                    // appended to the access-log line either way
};

// Runs on the I/O thread for every route with options.auth, after the headers
// and before the body is read (an unauthenticated client cannot make the
// server read a large body). It must never block the I/O thread: it returns
// the verdict when memory decides it (no key, a malformed key, a cached key),
// and otherwise returns nullopt and calls `later` exactly once, from any
// thread, once a worker has the answer. The connection waits for `later` at
// most [limits] auth_timeout, then answers 503 with Retry-After; a verdict
// that comes after that is dropped.
using AuthLater = std::function<void(AuthVerdict)>;
using Authenticator =
    std::function<std::optional<AuthVerdict>(const Request&, const RouteOptions&, AuthLater later)>;

class Server {
 public:
  // Builds the TLS context and the built-in routes; binds nothing yet.
  static Result<std::unique_ptr<Server>> create(const config::Config& cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Register routes before start().
  Router& router();
  void set_authenticator(Authenticator authenticator);
  // Called on an I/O thread once per request as it ends (sent, or the client
  // gone); must be cheap and must not block. Set before start().
  void set_request_observer(std::function<void(const RequestSummary&)> observer);

  // Serves on `fd`, a listening TCP socket that systemd passed (socket
  // activation), instead of binding [server] address and port. Before start();
  // the server owns the fd from here on.
  void adopt_listener(int fd);

  // The live part of a reload: the TLS certificate and key, [limits] (except
  // route_body_bytes, fixed at start) and [log] access_log of `cfg`. Builds
  // the new TLS context now (an error changes nothing) and returns the
  // commit, which swaps them in: connections accepted afterwards get them,
  // open ones keep what they started with.
  Result<std::function<void()>> prepare_reload(const config::Config& cfg);

  // Applies [limits] route_body_bytes: each must name a registered route.
  // start() calls it; `llmd check-config` calls it alone.
  Status apply_route_limits();

  // apply_route_limits(), then binds the listeners and starts the I/O threads.
  Status start();

  std::uint16_t port() const;  // the bound TCP port, after start()
  std::string url() const;     // "https://127.0.0.1:8443"

  // /readyz answers 200 only while ready and not draining.
  void set_ready(bool ready);
  bool ready() const;

  // Stops accepting, makes /readyz answer 503, closes idle connections and
  // lets in-flight requests finish (their connections close afterwards).
  void begin_drain();
  bool draining() const;
  // Waits until no connection is left, up to `timeout`. True when none is.
  bool wait_idle(std::chrono::milliseconds timeout);

  // Closes every connection (aborting what is in flight), stops the threads.
  void stop();

  std::size_t connections() const;

  // Runs `fn` on an I/O thread (the watchdog uses it to prove they are alive).
  void post(std::function<void()> fn);
  // Runs `fn` on the worker pool (work that may take a while: tokenizing,
  // SQLite), as offload routes' handlers run.
  void offload(std::function<void()> fn);

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::http
