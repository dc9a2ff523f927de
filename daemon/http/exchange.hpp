// One request and its response, as a handler sees it. The handler (or any
// thread it hands the exchange to, such as the engine loop) answers with
// respond() or streams with begin_stream() / write() / end_stream(). Every
// method is thread-safe and returns at once: the bytes are queued for the
// connection's strand, never written on the caller's thread.
//
//   Streaming: write() appends to a bounded per-response buffer
//   ([limits] stream_buffer_bytes). A client that reads too slowly overflows
//   it: the stream is aborted, the connection closed, write() returns false
//   and on_done() reports Outcome::overflow. The producer never blocks.
//
//   Ending: on_done() runs exactly once, on an I/O thread, when the response
//   has been fully written (completed) or can no longer be delivered (the
//   client went away, overflow, timeout, shutdown). A request whose client
//   disconnects is noticed while its handler is still working, so the work
//   can be cancelled. aborted() is the same fact as a flag to poll.
//
//   Dropping the last ExchangePtr without answering sends a 500 (or, mid-
//   stream, closes the connection): a request is never left hanging.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <memory>
#include <string_view>

#include "daemon/http/message.hpp"

namespace llmd::http {

namespace detail {
class ExchangeState;
}

enum class Outcome {
  completed,     // the whole response reached the socket
  client_gone,   // the client closed the connection or it failed
  overflow,      // the client read too slowly for the stream buffer
  timeout,       // a write took longer than [limits] write_timeout_s
  shutdown,      // the server stopped (drain timeout or forced stop)
  abandoned,     // every handle was dropped without an answer
};

std::string_view to_string(Outcome o);

// The labels a finished request is counted under (see set_metric_labels()).
struct MetricLabels {
  std::string endpoint;
  std::string model;
  std::string team;
  std::string refusal;  // the error code of an admission refusal ("rate_limit_exceeded", ...)
};

// A request as it ends, for metrics: see Server::set_request_observer().
struct RequestSummary {
  std::string_view method;
  std::string_view path;
  int status = 0;  // 0 when nothing was sent
  std::chrono::steady_clock::duration elapsed{};
  std::string_view outcome;  // empty when completed normally
  MetricLabels labels;       // empty unless the handler set them
};

class Exchange {
 public:
  explicit Exchange(std::shared_ptr<detail::ExchangeState> state);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // The request; the handler may move its body out. Not synchronised: only
  // the current owner of the exchange touches it.
  const Request& request() const;
  Request& request();

  // Answers with a whole response. False when already answered or aborted.
  // On a stream that has begun (SSE comments sent while the request waited
  // for a model), the response's body goes out as the stream's last SSE
  // data event instead, and the stream ends.
  bool respond(Response response);
  // Shorthand for respond(error_response(...)).
  bool respond_error(int status, std::string_view message, std::string_view code = {},
                     std::string_view param = {});

  // Sends the status and headers now; the body follows with write(). Chunked
  // for HTTP/1.1 clients, ended by closing the connection for HTTP/1.0.
  bool begin_stream(int status, Headers headers = {});
  // Queues body bytes. False once the stream is aborted or ended.
  bool write(std::string_view bytes);
  // Ends the body; the connection may carry the next request afterwards.
  bool end_stream();

  // Runs `fn` once when the exchange ends (immediately if it already has).
  // Keep it short and non-blocking; do not capture this ExchangePtr in it.
  void on_done(std::function<void(Outcome)> fn);

  // True once the response can no longer be delivered.
  bool aborted() const;

  // Adds " key=value" to this request's access-log line (for example the
  // model). Spaces and control characters in `value` become '_'. Never log
  // secrets.
  void log_field(std::string_view key, std::string_view value);

  // What the request is, for the metrics of finished requests (bounded
  // values only: an endpoint name, a configured model id, a team name; never
  // keys or request ids). Later calls replace earlier ones; empty leaves a
  // label as it was.
  void set_metric_labels(std::string_view endpoint, std::string_view model = {}, std::string_view team = {});
  // Marks the request as refused by admission with `code` (bounded: a denial's code).
  void set_metric_refusal(std::string_view code);

 private:
  std::shared_ptr<detail::ExchangeState> state_;
};

}  // namespace llmd::http
