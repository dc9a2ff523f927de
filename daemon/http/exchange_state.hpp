// The shared state between an Exchange handle (producer side, any thread) and
// the connection's session (consumer side, its strand). A mutex guards it; the
// producer only appends and flags, the session takes what is there and writes.
// Internal to http/.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "daemon/http/exchange.hpp"
#include "daemon/http/message.hpp"

namespace llmd::http::detail {

class ExchangeState;

// The session side. exchange_changed() may be called from any thread; it must
// only schedule work on the connection's strand.
class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  virtual void exchange_changed(std::shared_ptr<ExchangeState> state) = 0;
  // Called on a thread of io_executor()'s context: runs the work on the
  // connection's strand right away when the strand is free, else queues it.
  virtual void exchange_changed_here(std::shared_ptr<ExchangeState> state) = 0;
  // The I/O context the connection runs on (not its strand).
  virtual boost::asio::any_io_executor io_executor() = 0;
};

class ExchangeState : public std::enable_shared_from_this<ExchangeState> {
 public:
  ExchangeState(Request request, std::size_t stream_limit, std::weak_ptr<ExchangeSink> sink);

  Request request;

  // ---- producer side (any thread) ----
  bool respond(Response response);
  bool begin_stream(int status, Headers headers);
  bool write(std::string_view bytes);
  bool end_stream();
  void abandon();  // the last handle went away
  void on_done(std::function<void(Outcome)> fn);
  bool aborted() const { return aborted_.load(std::memory_order_acquire); }
  // A stream has begun and not ended.
  bool streaming() const {
    std::lock_guard lock(mu_);
    return mode_ == Mode::stream && !ended_ && !done_;
  }
  void log_field(std::string_view key, std::string_view value);

  // ---- session side (its strand) ----
  struct Taken {
    std::optional<Response> whole;                 // a whole response to send
    std::optional<std::pair<int, Headers>> head;  // a stream's status and headers
    std::string bytes;                             // stream body bytes
    bool end = false;                              // the stream ends after `bytes`
    bool overflow = false;                         // the stream buffer overflowed
    bool abandoned = false;                        // no answer will ever come
  };
  Taken take();
  // Stream body bytes that reached the socket (frees buffer space).
  void written(std::size_t bytes);
  // The fields added with log_field(), " key=value" each.
  std::string log_fields();
  void set_metric_labels(std::string_view endpoint, std::string_view model, std::string_view team);
  void set_metric_refusal(std::string_view code);
  MetricLabels metric_labels();
  // Ends the exchange: runs on_done once. Later calls do nothing.
  void finish(Outcome outcome);

 private:
  enum class Mode { none, whole, stream };
  void notify_locked(std::unique_lock<std::mutex>& lock);

  const std::size_t stream_limit_;
  const std::weak_ptr<ExchangeSink> sink_;

  mutable std::mutex mu_;
  Mode mode_ = Mode::none;
  std::optional<Response> whole_;
  std::optional<std::pair<int, Headers>> head_;
  std::string pending_;
  std::size_t buffered_ = 0;  // pending_ plus bytes taken but not yet written
  bool ended_ = false;
  bool end_taken_ = false;
  bool overflow_ = false;
  bool abandoned_ = false;
  bool notified_ = false;  // a wake-up is on its way to the session
  bool done_ = false;
  Outcome outcome_ = Outcome::completed;
  std::function<void(Outcome)> on_done_;
  std::string log_fields_;
  MetricLabels labels_;
  std::atomic<bool> aborted_{false};
};

}  // namespace llmd::http::detail
