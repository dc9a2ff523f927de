// Exchanges handed over by a test route (/park), as an engine would receive
// them: the test answers them later, from its own thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "daemon/http/exchange.hpp"
#include "daemon/http/router.hpp"

namespace llmd::test {

class Parking {
 public:
  void park(http::ExchangePtr ex) {
    std::lock_guard lock(mu_);
    parked_.push_back(std::move(ex));
    cv_.notify_all();
  }
  // The oldest parked exchange, or null after `timeout`.
  http::ExchangePtr take(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !parked_.empty(); })) return nullptr;
    auto ex = parked_.front();
    parked_.erase(parked_.begin());
    return ex;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<http::ExchangePtr> parked_;
};

}  // namespace llmd::test
