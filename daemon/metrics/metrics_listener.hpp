// GET /metrics on a listener of its own: plain HTTP (scrapers on the box or
// a trusted network), one thread, apart from the API's I/O threads so that a
// scrape never waits behind API traffic and API traffic never behind a
// scrape. With a token configured, requests must carry
// "Authorization: Bearer <token>" (compared in constant time); anything else
// gets 401, other paths 404, other methods 405. Requests are small and
// bounded (headers 8 KiB, no body), connections limited and timed out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"

namespace llmd::metrics {

struct ListenerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 9464;        // 0: an ephemeral port (tests)
  std::string token;           // empty: no authentication
  int max_connections = 32;
};

class MetricsListener {
 public:
  // Binds and starts serving `render()` (called on the listener's thread).
  static Result<std::unique_ptr<MetricsListener>> start(const ListenerOptions& options,
                                                       std::function<std::string()> render);
  ~MetricsListener();  // stop()

  uint16_t port() const;
  // Closes the listener and its connections and joins its thread. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit MetricsListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::metrics
