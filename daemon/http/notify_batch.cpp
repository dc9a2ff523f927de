#include "daemon/http/notify_batch.hpp"

#include <boost/asio/post.hpp>

#include <utility>
#include <vector>

#include "daemon/http/exchange_state.hpp"

namespace llmd::http {
namespace {

struct Pending {
  std::shared_ptr<detail::ExchangeSink> sink;
  std::shared_ptr<detail::ExchangeState> state;
};

struct ThreadBatch {
  bool collecting = false;
  std::vector<Pending> items;
};

thread_local ThreadBatch tl_batch;

}  // namespace

bool NotifyBatch::defer(const std::weak_ptr<detail::ExchangeSink>& sink, std::shared_ptr<detail::ExchangeState> state) {
  ThreadBatch& b = tl_batch;
  if (!b.collecting) return false;
  if (auto s = sink.lock()) b.items.push_back({std::move(s), std::move(state)});
  return true;  // a gone connection has nothing left to notify
}

void NotifyBatch::flush_this_thread() {
  ThreadBatch& b = tl_batch;
  b.collecting = true;
  if (b.items.empty()) return;
  auto items = std::make_shared<std::vector<Pending>>(std::move(b.items));
  b.items.clear();
  // Usually every connection shares one I/O context; group by it all the same.
  while (!items->empty()) {
    boost::asio::any_io_executor ex = items->front().sink->io_executor();
    auto job = std::make_shared<std::vector<Pending>>();
    std::vector<Pending> rest;
    for (Pending& p : *items) {
      if (p.sink->io_executor() == ex) {
        job->push_back(std::move(p));
      } else {
        rest.push_back(std::move(p));
      }
    }
    *items = std::move(rest);
    boost::asio::post(ex, [job] {
      for (Pending& p : *job) p.sink->exchange_changed_here(std::move(p.state));
    });
  }
}

}  // namespace llmd::http
