// Session: reading and parsing requests, routing, authentication, handler
// dispatch. Writing, timers and closing are in session_write.cpp.
#include "daemon/http/session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <exception>

#include "daemon/http/request_framing.hpp"
#include "daemon/http/request_id.hpp"
#include "base/log.hpp"

namespace llmd::http::detail {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {
std::string clip(std::string_view s, std::size_t n = 200) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}
}  // namespace

Session::Session(ServerCore& core, std::unique_ptr<Transport> transport, std::string remote, std::string client)
    : core_(core),
      limits_(core.limits()),
      t_(std::move(transport)),
      strand_(t_->executor()),
      timer_(strand_),
      remote_(std::move(remote)),
      client_(std::move(client)),
      buffer_(limits_->header_bytes + kReadChunk),
      pipeline_(limits_->header_bytes),
      header_scan_(limits_->header_bytes),
      chunk_scan_(limits_->header_bytes) {}

// Only reached without close() when the server stops with the I/O threads
// gone (see release()).
Session::~Session() {
  if (cur_.unlogged) log_access("shutdown");
  if (phase_ != Phase::closing && phase_ != Phase::closed) log_unserved("shutdown");
  if (exchange_) exchange_->finish(Outcome::shutdown);
  if (!client_.empty()) core_.release_client(client_);
  if (id_ != 0) core_.remove_session(id_);
}

void Session::release() { hold_.reset(); }

void Session::start() {
  id_ = core_.add_session(weak_from_this());
  net::post(strand_, [self = shared_from_this()] {
    if (self->phase_ == Phase::closed) return;
    self->arm(self->limits_->handshake_timeout);
    self->t_->handshake([self](error_code ec) { self->on_handshake(ec); });
  });
}

void Session::drain() {
  net::post(strand_, [self = shared_from_this()] {
    self->draining_ = true;
    self->close_if_idle(kDrainIdleRounds);
  });
}

// An idle connection closes at drain, unless the client's next request is
// already on its way: bytes waiting in the kernel, or bytes a read has taken
// from the socket whose completion (decryption, then our handler) is queued
// behind us on the strand. Re-posting lets those queued steps run first; a
// request that arrives in them moves the session out of idle and is served.
void Session::close_if_idle(int rounds) {
  if (phase_ != Phase::idle || t_->available() != 0) return;
  if (rounds > 0) {
    net::post(strand_, [self = shared_from_this(), rounds] { self->close_if_idle(rounds - 1); });
    return;
  }
  begin_close(false);
}

void Session::abort() {
  net::post(strand_, [self = shared_from_this()] { self->close(Outcome::shutdown); });
}

void Session::exchange_changed(std::shared_ptr<ExchangeState> state) {
  net::post(strand_, [self = shared_from_this(), state = std::move(state)] { self->pump(state); });
}

void Session::exchange_changed_here(std::shared_ptr<ExchangeState> state) {
  net::dispatch(strand_, [self = shared_from_this(), state = std::move(state)] { self->pump(state); });
}

net::any_io_executor Session::io_executor() {
  return static_cast<net::io_context&>(net::query(strand_, net::execution::context)).get_executor();
}

bool Session::stopping() const { return draining_ || core_.draining.load(std::memory_order_relaxed); }

void Session::on_handshake(error_code ec) {
  if (phase_ != Phase::handshake) return;
  if (ec) {
    log::debugf("TLS handshake with %s failed: %s", remote_.c_str(), ec.message().c_str());
    close(Outcome::client_gone);
    return;
  }
  next_request(true);
}

void Session::next_request(bool first) {
  cur_ = Current{};
  pipeline_.begin_next();
  cur_.id = new_request_id();  // replaced by the client's own once the headers are in
  request_.reset();
  exchange_.reset();
  parser_.emplace();
  // HeaderScan enforces the limit exactly, ahead of the parser; the parser's
  // own limit (per call, not per header block) only has to let that through.
  parser_->header_limit(static_cast<std::uint32_t>(limits_->header_bytes + 1));
  header_scan_.reset();
  chunk_scan_.reset();
  parser_->body_limit(boost::none);  // the route decides, once the headers are in

  if (!first && buffer_.size() == 0) {
    // Draining: close, unless the client's next request is already arriving.
    if (stopping() && t_->available() == 0) {
      begin_close(false);
      return;
    }
    phase_ = Phase::idle;
    arm(authenticated_ ? limits_->idle_timeout
                       : std::min(limits_->idle_timeout, limits_->unauthenticated_idle_timeout));
    read();  // a read may already be in flight: it completes into the idle phase
    return;
  }
  phase_ = Phase::header;
  cur_.start = std::chrono::steady_clock::now();
  arm(limits_->header_timeout);
  parse();
}

std::string_view Session::unparsed() const {
  return {static_cast<const char*>(buffer_.data().data()), buffer_.size()};
}

void Session::read() {
  if (reading_ || phase_ == Phase::closing || phase_ == Phase::closed) return;
  // The cap on pipelined requests: the one being served plus those buffered.
  if (phase_ == Phase::handling && 1 + pipeline_.whole().size() >= kMaxPipelined) return;
  // Asking for no more than the buffer has room for now keeps the append in
  // on_read() within its bound: until then the buffer can only shrink.
  std::size_t room = buffer_.max_size() - buffer_.size();
  if (room == 0) return;
  reading_ = true;
  t_->read_some(net::buffer(read_buf_.data(), std::min(room, read_buf_.size())),
                [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void Session::on_read(error_code ec, std::size_t n) {
  reading_ = false;
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::closing) {
    continue_close();
    return;
  }
  if (ec) {
    if (phase_ == Phase::handling) {
      log::debugf("client %s went away during request %s", remote_.c_str(), cur_.id.c_str());
    } else if (phase_ == Phase::header || phase_ == Phase::body) {
      log::debugf("client %s closed the connection mid-request", remote_.c_str());
    }
    close(Outcome::client_gone);
    return;
  }
  buffer_.commit(net::buffer_copy(buffer_.prepare(n), net::buffer(read_buf_.data(), n)));
  switch (phase_) {
    case Phase::idle:
      phase_ = Phase::header;
      cur_.start = std::chrono::steady_clock::now();
      arm(limits_->header_timeout);
      parse();
      return;
    case Phase::header:
    case Phase::body:
      parse();
      return;
    case Phase::handling:
      // The client pipelined more requests: they wait in the buffer for their
      // turn. Reading goes on up to the cap, watching for a disconnect.
      if (cur_.whole) pipeline_.scan(unparsed(), kMaxPipelined);  // else the buffer starts inside the current request
      read();
      return;
    default:
      return;
  }
}

void Session::parse() {
  while (phase_ == Phase::header || phase_ == Phase::body) {
    if (buffer_.size() == 0) {
      read();
      return;
    }
    if (phase_ == Phase::header && !header_block_ok()) return;
    const bool chunked = phase_ == Phase::body && parser_->chunked();
    if (chunked && !chunks_ok()) return;
    error_code ec;
    std::size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    cur_.wire_bytes += used;
    if (phase_ == Phase::header) header_scan_.consumed(used);
    if (chunked) chunk_scan_.consumed(used);
    if (ec == bhttp::error::need_more) {
      read();
      return;
    }
    if (ec) {
      on_parse_error(ec);
      return;
    }
    if (phase_ == Phase::header && parser_->is_header_done() && !on_header()) return;
    if (parser_->is_done()) {
      on_request();
      return;
    }
  }
}

bool Session::header_block_ok() {
  switch (header_scan_.scan(unparsed())) {
    case HeaderScan::Verdict::need_more:
    case HeaderScan::Verdict::complete:
      return true;
    case HeaderScan::Verdict::too_large:
      answer_early(error_response(431, "request headers exceed " + std::to_string(limits_->header_bytes) + " bytes",
                                  "request_headers_too_large"));
      return false;
    case HeaderScan::Verdict::bare_cr_or_lf:
      answer_early(error_response(400, "malformed HTTP request: CR or LF alone in the header block",
                                  "invalid_http_request"));
      return false;
    case HeaderScan::Verdict::obs_fold:
      answer_early(error_response(400, "malformed HTTP request: obsolete line folding in the header block",
                                  "invalid_http_request"));
      return false;
  }
  return true;
}

bool Session::chunks_ok() {
  switch (chunk_scan_.scan(unparsed())) {
    case ChunkScan::Verdict::need_more:
    case ChunkScan::Verdict::complete:
      return true;
    case ChunkScan::Verdict::bad_line:
      answer_early(error_response(400, "malformed HTTP request: bad chunk-size line or trailer", "invalid_http_request"));
      return false;
    case ChunkScan::Verdict::too_long:
      answer_early(error_response(400, "malformed HTTP request: chunk-size line or trailer section longer than " +
                                           std::to_string(limits_->header_bytes) + " bytes",
                                  "invalid_http_request"));
      return false;
  }
  return true;
}

bool Session::framing_ok() {
  FramingCheck check;
  for (const auto& field : parser_->get()) check.field(field.name_string(), field.value());
  auto bad = check.verdict(static_cast<int>(parser_->get().version()));
  if (!bad) return true;
  log::debugf("refused request framing from %s: %s", remote_.c_str(), bad->message.c_str());
  answer_early(error_response(bad->status, "malformed HTTP request: " + bad->message,
                              bad->status == 501 ? "not_implemented" : "invalid_http_request"),
               true);
  return false;
}

void Session::on_parse_error(error_code ec) {
  if (ec == bhttp::error::header_limit) {
    answer_early(error_response(431, "request headers exceed " + std::to_string(limits_->header_bytes) + " bytes",
                                "request_headers_too_large"));
  } else if (ec == bhttp::error::body_limit) {
    std::size_t limit = cur_.route && cur_.route->options.body_limit ? *cur_.route->options.body_limit
                                                                     : limits_->body_bytes;
    answer_early(error_response(413, "request body exceeds " + std::to_string(limit) + " bytes",
                                "request_too_large"));
  } else {
    answer_early(error_response(400, "malformed HTTP request: " + ec.message(), "invalid_http_request"));
  }
}

bool Session::on_header() {
  cur_.unlogged = true;
  const auto& msg = parser_->get();
  cur_.version = static_cast<int>(msg.version());
  cur_.method = std::string(msg.method_string());
  cur_.keep_alive = msg.keep_alive();
  std::string_view rid = msg["x-request-id"];
  if (acceptable_request_id(rid)) cur_.id = std::string(rid);
  std::string_view target = msg.target();
  cur_.path = std::string(target.substr(0, target.find('?')));
  // Before anything that could answer and keep the connection: an answer to
  // a request whose end is in doubt must never be followed by reading on.
  if (!framing_ok()) return false;

  if (cur_.version != 10 && cur_.version != 11) {
    answer_early(error_response(505, "only HTTP/1.0 and HTTP/1.1 are supported", "http_version_not_supported"));
    return false;
  }
  if (cur_.version == 11 && msg.find(bhttp::field::host) == msg.end()) {
    answer_early(error_response(400, "HTTP/1.1 requests need a Host header", "invalid_http_request"));
    return false;
  }
  if (target.empty() || target.front() != '/') {
    answer_early(error_response(400, "the request target must be an absolute path", "invalid_http_request"));
    return false;
  }

  auto m = core_.router.match(cur_.method, cur_.path);
  if (m.kind == Router::MatchKind::not_found) {
    answer_early(error_response(404, "no such route: " + clip(cur_.method, 16) + " " + clip(cur_.path), "not_found"));
    return false;
  }
  if (m.kind == Router::MatchKind::method_not_allowed) {
    Response r = error_response(405, "method " + clip(cur_.method, 16) + " is not allowed on " + clip(cur_.path),
                                "method_not_allowed");
    r.headers.set("allow", m.allow);
    answer_early(std::move(r));
    return false;
  }
  cur_.route = m.route;

  Request req;
  req.method = cur_.method;
  req.target = std::string(target);
  req.path = cur_.path;
  if (auto q = target.find('?'); q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  req.version = cur_.version;
  for (const auto& field : msg) req.headers.add(field.name_string(), field.value());
  req.params = std::move(m.params);
  req.route = m.route->pattern;
  req.id = cur_.id;
  req.remote = remote_;
  req.received = cur_.start;

  if (m.route->options.auth && core_.authenticator) {
    const std::uint64_t round = ++auth_round_;
    AuthLater later = [weak = weak_from_this(), strand = strand_, round](AuthVerdict v) {
      net::post(strand, [weak, round, v = std::move(v)]() mutable {
        if (auto self = weak.lock()) self->on_auth(round, std::move(v));
      });
    };
    std::optional<AuthVerdict> now;
    try {
      now = core_.authenticator(req, m.route->options, std::move(later));
    } catch (const std::exception& e) {
      log::errorf("authenticator failed for request %s: %s", cur_.id.c_str(), e.what());
      ++auth_round_;  // a verdict it may still send is not wanted
      now = AuthVerdict{error_response(500, "internal error while authenticating", "internal_error"), nullptr, {}};
    }
    request_ = std::move(req);
    if (!now) {
      // The verdict needs the database: a worker answers through on_auth().
      // Nothing more is read or parsed meanwhile.
      phase_ = Phase::authenticating;
      arm(limits_->auth_timeout);
      return false;
    }
    return apply_verdict(std::move(*now)) && accept_body();
  }
  request_ = std::move(req);
  return accept_body();
}

bool Session::apply_verdict(AuthVerdict verdict) {
  cur_.log_context = verdict.log_context;
  if (verdict.denied) {
    answer_early(std::move(*verdict.denied));
    return false;
  }
  request_->principal = std::move(verdict.principal);
  request_->log_context = std::move(verdict.log_context);
  authenticated_ = true;
  return true;
}

void Session::on_auth(std::uint64_t round, AuthVerdict verdict) {
  if (phase_ != Phase::authenticating || round != auth_round_) return;  // timed out or closed meanwhile
  disarm();
  phase_ = Phase::header;
  if (!apply_verdict(std::move(verdict)) || !accept_body()) return;
  if (parser_->is_done()) {
    on_request();
  } else {
    parse();
  }
}

bool Session::accept_body() {
  const auto& msg = parser_->get();
  const std::size_t limit = cur_.route->options.body_limit.value_or(limits_->body_bytes);
  auto length = parser_->content_length();
  if (length && *length > limit) {
    answer_early(error_response(413, "request body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                                         std::to_string(limit) + " bytes",
                                "request_too_large"));
    return false;
  }
  parser_->body_limit(limit);

  bool has_body = parser_->chunked() || (length && *length > 0);
  if (has_body) {
    phase_ = Phase::body;
    arm(limits_->body_timeout);
    if (cur_.version == 11 && iequals(msg[bhttp::field::expect], "100-continue")) send_continue();
  }
  parser_->eager(true);
  return true;
}

void Session::on_request() {
  disarm();
  phase_ = Phase::handling;
  cur_.keep_alive = parser_->keep_alive();
  Request req = std::move(*request_);
  request_.reset();
  req.body = std::move(parser_->get().body());

  auto state = std::make_shared<ExchangeState>(std::move(req), limits_->stream_buffer_bytes,
                                               std::weak_ptr<ExchangeSink>(shared_from_this()));
  exchange_ = state;
  hold_ = shared_from_this();
  cur_.whole = true;
  pipeline_.current_read(cur_.wire_bytes);
  pipeline_.scan(unparsed(), kMaxPipelined);
  read();  // notices a client that goes away while we work (and takes in what it pipelines)

  const Route* route = cur_.route;
  auto invoke = [route, id = cur_.id](ExchangePtr ex) {
    try {
      route->handler(ex);
    } catch (const std::exception& e) {
      log::errorf("handler for %s failed on request %s: %s", route->pattern.c_str(), id.c_str(), e.what());
      ex->respond_error(500, "internal error", "internal_error");
    }
  };
  auto handle = std::make_shared<Exchange>(std::move(state));
  if (route->options.offload && core_.offload) {
    core_.offload([invoke, handle]() mutable { invoke(std::move(handle)); });
  } else {
    invoke(std::move(handle));
  }
}

void Session::answer_early(Response r, bool close_connection) {
  disarm();
  cur_.unlogged = true;
  bool complete = !close_connection && parser_ && parser_->is_done();
  if (complete) {
    cur_.whole = true;
    pipeline_.current_read(cur_.wire_bytes);
    pipeline_.scan(unparsed(), kMaxPipelined);
  }
  cur_.linger = !complete;
  cur_.close_after = cur_.close_after || !complete;
  phase_ = Phase::handling;
  send_whole(std::move(r));
}

}  // namespace llmd::http::detail
