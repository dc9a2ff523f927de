// Session: the write side (whole responses, streams, one write in flight),
// timers and closing.
#include <boost/asio/buffer.hpp>

#include "daemon/http/access_log.hpp"
#include "daemon/http/error_status.hpp"
#include "daemon/http/session.hpp"
#include "base/log.hpp"

namespace llmd::http::detail {

namespace net = boost::asio;
using boost::system::error_code;

namespace {
// TLS close: our close_notify goes out at once; the peer's answer is waited
// for only briefly (the standard does not require waiting for it at all).
constexpr std::chrono::milliseconds kShutdownTimeout{250};
// Lingering close after an error: time for the client to read our answer.
constexpr std::chrono::milliseconds kLingerTimeout{2000};
constexpr std::size_t kLingerMax = 1024 * 1024;  // bytes read and dropped at most
}  // namespace

void Session::send_whole(Response r) {
  if (writing_) {  // the interim "100 Continue" is still on its way
    deferred_ = std::move(r);
    return;
  }
  bool keep = !cur_.close_after && cur_.keep_alive && !stopping();
  cur_.close_after = !keep;
  cur_.status = r.status;
  cur_.body_bytes = status_has_body(r.status) ? r.body.size() : 0;
  out_.clear();
  out_body_bytes_ = 0;
  append_response(out_, r, cur_.version, cur_.id, keep);
  start_write(WriteKind::response);
}

void Session::send_continue() {
  if (writing_) return;
  out_ = "HTTP/1.1 100 Continue\r\n\r\n";
  start_write(WriteKind::interim);
}

void Session::pump(const std::shared_ptr<ExchangeState>& st) {
  if (phase_ != Phase::handling || st != exchange_ || writing_) return;
  ExchangeState::Taken t = st->take();
  if (t.overflow) {
    log::warnf("aborting the stream of request %s: client %s reads too slowly (buffer limit %zu bytes)",
               cur_.id.c_str(), remote_.c_str(), limits_->stream_buffer_bytes);
    close(Outcome::overflow);
    return;
  }
  if (t.whole) {
    send_whole(std::move(*t.whole));
    return;
  }
  out_.clear();
  out_body_bytes_ = 0;
  if (t.head) {
    cur_.stream = true;
    cur_.status = t.head->first;
    cur_.framing = cur_.version >= 11 ? Framing::chunked : Framing::close;
    bool keep = cur_.framing == Framing::chunked && cur_.keep_alive && !stopping();
    cur_.close_after = !keep;
    Head h;
    h.status = cur_.status;
    h.request_version = cur_.version;
    h.request_id = cur_.id;
    h.framing = cur_.framing;
    h.keep_alive = keep;
    append_head(out_, h, t.head->second);
  }
  if (cur_.stream && !t.bytes.empty()) {
    if (cur_.framing == Framing::chunked) {
      append_chunk(out_, t.bytes);
    } else {
      out_ += t.bytes;
    }
    out_body_bytes_ = t.bytes.size();
    cur_.body_bytes += t.bytes.size();
  }
  if (cur_.stream && t.end) {
    if (cur_.framing == Framing::chunked) append_last_chunk(out_);
    cur_.stream_ended = true;
  }
  if (!out_.empty()) {
    start_write(WriteKind::stream);
    return;
  }
  if (cur_.stream_ended) {  // a close-delimited stream ends with no bytes to write
    finish_exchange();
    return;
  }
  if (t.abandoned) {
    cur_.abandoned = true;
    if (cur_.stream) {
      log::errorf("request %s: the stream was dropped before its end", cur_.id.c_str());
      close(Outcome::abandoned);
    } else {
      log::errorf("request %s: dropped without an answer", cur_.id.c_str());
      send_whole(error_response(500, "the server dropped this request without an answer", "internal_error"));
    }
  }
}

void Session::start_write(WriteKind kind) {
  writing_ = true;
  write_kind_ = kind;
  if (phase_ == Phase::handling) {
    // Streams write often: the timer stays armed (at an earlier deadline, or
    // unarmed at max) and on_timer() moves it on, instead of a re-arm per write.
    write_deadline_ = net::steady_timer::clock_type::now() + limits_->write_timeout;
    if (timer_.expiry() == net::steady_timer::time_point::max()) arm(limits_->write_timeout);
  }
  t_->write(net::buffer(out_), [self = shared_from_this()](error_code ec, std::size_t n) { self->on_write(ec, n); });
}

void Session::on_write(error_code ec, std::size_t) {
  writing_ = false;
  if (phase_ == Phase::closed) return;
  if (ec) {
    log::debugf("write to %s failed: %s", remote_.c_str(), ec.message().c_str());
    close(Outcome::client_gone);
    return;
  }
  if (phase_ == Phase::handling) write_deadline_ = net::steady_timer::time_point::max();
  switch (write_kind_) {
    case WriteKind::interim:
      if (deferred_) {
        Response r = std::move(*deferred_);
        deferred_.reset();
        send_whole(std::move(r));
      } else if (phase_ == Phase::handling && exchange_) {
        pump(exchange_);  // the answer may have arrived meanwhile
      }
      return;
    case WriteKind::response:
      finish_exchange();
      return;
    case WriteKind::stream:
      if (exchange_ && out_body_bytes_ > 0) exchange_->written(out_body_bytes_);
      if (cur_.stream_ended) {
        finish_exchange();
      } else if (exchange_) {
        pump(exchange_);
      }
      return;
  }
}

void Session::log_access(std::string_view outcome) {
  cur_.unlogged = false;
  if (core_.observer) {
    RequestSummary s;
    s.method = cur_.method;
    s.path = cur_.path;
    s.status = cur_.status;
    s.elapsed = cur_.start.time_since_epoch().count() == 0 ? std::chrono::steady_clock::duration{}
                                                           : std::chrono::steady_clock::now() - cur_.start;
    s.outcome = outcome;
    if (exchange_) s.labels = exchange_->metric_labels();
    core_.observer(s);
  }
  if (!core_.access_log) return;
  AccessRecord r;
  r.remote = remote_;
  r.method = cur_.method;
  r.path = cur_.path;
  r.status = cur_.status;
  r.bytes = cur_.body_bytes;
  r.elapsed = cur_.start.time_since_epoch().count() == 0 ? std::chrono::steady_clock::duration{}
                                                         : std::chrono::steady_clock::now() - cur_.start;
  r.id = cur_.id;
  r.outcome = outcome;
  std::string context = cur_.log_context;
  if (exchange_) context += exchange_->log_fields();
  r.context = context;
  write_access_log(r);
}

void Session::log_unserved(std::string_view why) {
  // Normally the scan stops at the cap; the requests past it were read too.
  // (Without the whole current request read, the buffer does not start where
  // the scan's view of it does: only what it found before is logged.)
  if (cur_.whole) pipeline_.scan(unparsed());
  if (core_.access_log) {
    const std::string context = "close=" + std::string(why);
    for (const PipelineScan::Seen& s : pipeline_.whole()) {
      AccessRecord r;
      r.remote = remote_;
      r.method = s.method;
      r.path = s.path;
      r.id = s.id;
      r.outcome = "not_served";
      r.context = context;
      write_access_log(r);
    }
  }
  pipeline_.clear();
}

void Session::finish_exchange() {
  auto keep = std::move(hold_);  // the pending reads and writes keep the session from here
  log_access(cur_.abandoned ? "abandoned" : "");
  if (exchange_) {
    auto ex = std::move(exchange_);
    ex->finish(cur_.abandoned ? Outcome::abandoned : Outcome::completed);
  }
  if (cur_.close_after || cur_.framing == Framing::close) {
    // Why the requests pipelined behind this one go unanswered.
    log_unserved(cur_.linger ? "request_unread" : stopping() ? "draining" : "connection_close");
    // Bytes the client sent after this request (pipelined requests) would
    // make the kernel reset the connection, perhaps before the client has
    // read this response: read and drop them while closing.
    begin_close(cur_.linger || buffer_.size() > 0 || t_->available() > 0);
    return;
  }
  next_request(false);
}

// ---------------------------------------------------------------- timers

void Session::arm(std::chrono::milliseconds d) {
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->on_timer();
  });
}

void Session::disarm() { timer_.expires_at(net::steady_timer::time_point::max()); }

void Session::on_timer() {
  const auto now = net::steady_timer::clock_type::now();
  if (timer_.expiry() > now) return;  // re-armed meanwhile
  if (phase_ == Phase::handling) {
    if (write_deadline_ == net::steady_timer::time_point::max()) {
      disarm();  // no write in flight: the next one arms it again
      return;
    }
    if (write_deadline_ > now) {  // armed for an earlier write: wait for this one
      timer_.expires_at(write_deadline_);
      timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->on_timer();
      });
      return;
    }
  }
  switch (phase_) {
    case Phase::handshake:
      log::debugf("closing %s: no TLS handshake within the timeout", remote_.c_str());
      break;
    case Phase::idle:
      break;  // an idle keep-alive connection: nothing to report
    case Phase::header:
      log::infof("closing %s: request headers not complete within %.1f s", remote_.c_str(),
                 limits_->header_timeout.count() / 1000.0);
      break;
    case Phase::authenticating: {
      log::warnf("request %s: its API key was not looked up within %.1f s ([limits] auth_timeout_s)",
                 cur_.id.c_str(), limits_->auth_timeout.count() / 1000.0);
      ++auth_round_;  // the verdict, should it still come, is dropped
      phase_ = Phase::header;
      answer_early(error_response_for(Error(ErrorCode::timeout, "The API key could not be checked in time; retry shortly.")));
      return;
    }
    case Phase::body:
      log::infof("closing %s: request body not complete within %.1f s", remote_.c_str(),
                 limits_->body_timeout.count() / 1000.0);
      break;
    case Phase::handling:
      log::infof("closing %s: a write did not complete within %.1f s", remote_.c_str(),
                 limits_->write_timeout.count() / 1000.0);
      break;
    case Phase::closing:
    case Phase::closed:
      break;
  }
  close(Outcome::timeout);
}

// ---------------------------------------------------------------- closing

void Session::begin_close(bool linger) {
  if (phase_ == Phase::closing || phase_ == Phase::closed) return;
  phase_ = Phase::closing;
  close_linger_ = linger;
  arm(linger ? kLingerTimeout : kShutdownTimeout);
  if (reading_) {
    t_->cancel();  // on_read continues the close once the read has returned
    return;
  }
  continue_close();
}

void Session::continue_close() {
  if (phase_ != Phase::closing) return;
  if (close_linger_) {
    t_->shutdown_send();
    linger_read();
  } else {
    t_->shutdown([self = shared_from_this()](error_code) { self->close(Outcome::completed); });
  }
}

void Session::linger_read() {
  t_->read_raw(net::buffer(linger_buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
    if (self->phase_ != Phase::closing) return;
    self->lingered_ += n;
    if (ec || self->lingered_ > kLingerMax) {
      self->close(Outcome::completed);
      return;
    }
    self->linger_read();
  });
}

void Session::close(Outcome why) {
  if (phase_ == Phase::closed) return;
  auto keep = std::move(hold_);  // this runs to its end even if it held the last reference
  const bool closing = phase_ == Phase::closing;  // then the requests left unserved are logged already
  phase_ = Phase::closed;
  timer_.cancel();
  t_->close();
  // Every request read, in whole or in part, gets its access-log line.
  if (cur_.unlogged) log_access(to_string(why));
  if (!closing) log_unserved(to_string(why));
  if (exchange_) {
    auto ex = std::move(exchange_);
    ex->finish(why);
  }
}

}  // namespace llmd::http::detail
