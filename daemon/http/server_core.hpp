// What every connection of one server shares: limits, router, authenticator,
// readiness and the registry of live sessions. Internal to http/.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/server.hpp"

namespace llmd::http::detail {

class Session;

struct ServerCore {
  // [limits] and [log] access_log; the daemon's reload replaces them while
  // connections are served. A session takes the limits once, when it starts.
  std::shared_ptr<const config::LimitsConfig> limits() const {
    std::lock_guard lock(limits_mu);
    return limits_;
  }
  void set_limits(config::LimitsConfig l) {
    auto next = std::make_shared<const config::LimitsConfig>(std::move(l));
    std::lock_guard lock(limits_mu);
    limits_ = std::move(next);
  }
  std::atomic<bool> access_log{true};
  Router router;
  Authenticator authenticator;
  std::function<void(std::function<void()>)> offload;  // runs work on the worker pool
  std::function<void(const RequestSummary&)> observer;  // each request as it ends (metrics); may be empty

  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};

  std::atomic<std::size_t> connections{0};
  std::mutex mu;
  std::condition_variable idle_cv;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_session = 0;

  // Open TCP connections per client address, under `mu`: only addresses with
  // at least one. Counted even without a cap (max_connections_per_client 0),
  // so that a cap set by a reload sees the connections already open.
  std::unordered_map<std::string, std::size_t> per_client;

  // Counts a new connection from `address`, or false when it has its
  // limits.max_connections_per_client already. Each true needs one
  // release_client().
  bool claim_client(const std::string& address) {
    const std::size_t cap = limits()->max_connections_per_client;
    std::lock_guard lock(mu);
    auto [it, fresh] = per_client.try_emplace(address, 0);
    if (cap != 0 && it->second >= cap) return false;
    ++it->second;
    return true;
  }

  void release_client(const std::string& address) {
    std::lock_guard lock(mu);
    auto it = per_client.find(address);
    if (it != per_client.end() && --it->second == 0) per_client.erase(it);
  }

  std::uint64_t add_session(std::weak_ptr<Session> s) {
    std::lock_guard lock(mu);
    connections.fetch_add(1);
    std::uint64_t id = ++next_session;
    sessions.emplace(id, std::move(s));
    return id;
  }

  void remove_session(std::uint64_t id) {
    std::lock_guard lock(mu);
    sessions.erase(id);
    connections.fetch_sub(1);
    idle_cv.notify_all();
  }

  std::vector<std::shared_ptr<Session>> live_sessions() {
    std::lock_guard lock(mu);
    std::vector<std::shared_ptr<Session>> out;
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

 private:
  mutable std::mutex limits_mu;
  std::shared_ptr<const config::LimitsConfig> limits_ = std::make_shared<const config::LimitsConfig>();
};

}  // namespace llmd::http::detail
