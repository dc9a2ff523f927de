// One client connection: TLS handshake, HTTP/1.1 requests parsed with Beast's
// parser under explicit limits and timeouts, routing and authentication, the
// handler call, and the single write in flight that carries whole responses or
// streamed chunks. Everything runs on the connection's strand; other threads
// reach it only through post(). Internal to http/.
//
// Phases:  handshake -> header -> [authenticating] -> [body] -> handling -> idle -> header ...
//          any -> closing (TLS shutdown or lingering close) -> closed
//
// Pipelining: requests are served one at a time, in the order they arrived;
// the next is parsed only once the current response (a whole stream included)
// has been written, so responses can never interleave or change order. Bytes
// that arrive behind the current request stay in the buffer for the next
// parse. While a request is handled the session keeps reading (a client that
// goes away is noticed) until it holds kMaxPipelined requests or a full
// buffer; then it stops reading until earlier ones are answered.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "daemon/http/chunk_scan.hpp"
#include "daemon/http/exchange_state.hpp"
#include "daemon/http/header_scan.hpp"
#include "daemon/http/pipeline_scan.hpp"
#include "daemon/http/server_core.hpp"
#include "daemon/http/transport.hpp"
#include "daemon/http/wire.hpp"

namespace llmd::http::detail {

class Session final : public ExchangeSink, public std::enable_shared_from_this<Session> {
 public:
  // `client`: the address claimed with ServerCore::claim_client() (released
  // when the session ends), empty for connections that are not counted.
  Session(ServerCore& core, std::unique_ptr<Transport> transport, std::string remote, std::string client = {});
  ~Session() override;

  // Thread-safe: each posts onto the connection's strand.
  void start();
  void drain();  // finish the current request, then close
  void abort();  // close now (server stop)
  void exchange_changed(std::shared_ptr<ExchangeState> state) override;
  void exchange_changed_here(std::shared_ptr<ExchangeState> state) override;
  boost::asio::any_io_executor io_executor() override;
  // After the I/O threads have stopped: drops the reference a session with a
  // request in flight holds to itself (its close never ran), so that it can
  // be freed. Not thread-safe: only once nothing runs the connection.
  void release();

  // Requests one connection holds unanswered, the one being served included:
  // with this many the session stops reading.
  static constexpr std::size_t kMaxPipelined = 16;
  static constexpr std::size_t kReadChunk = 16 * 1024;

 private:
  enum class Phase { handshake, idle, header, authenticating, body, handling, closing, closed };
  enum class WriteKind { interim, response, stream };

  // What the access log and the response framing need about the current request.
  struct Current {
    std::string method = "-";
    std::string path;
    std::string id;
    std::string log_context;
    int version = 11;
    bool keep_alive = true;
    std::chrono::steady_clock::time_point start{};
    const Route* route = nullptr;
    int status = 0;
    std::size_t body_bytes = 0;
    bool stream = false;
    bool stream_ended = false;
    Framing framing = Framing::length;
    bool close_after = false;  // the connection closes after this response
    bool linger = false;       // request bytes may be left unread: lingering close
    bool abandoned = false;
    std::size_t wire_bytes = 0;  // bytes of this request the parser has consumed
    bool whole = false;          // the parser has read all of it: the buffer holds only later requests
    bool unlogged = false;       // read (at least in part) and its access-log line not written yet
  };

  void on_handshake(boost::system::error_code ec);
  void next_request(bool first);
  void read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void parse();
  void on_parse_error(boost::system::error_code ec);
  bool on_header();
  // The authenticator's verdict (round: which request's) on the strand.
  void on_auth(std::uint64_t round, AuthVerdict verdict);
  // Answers a refusal (false) or attaches the caller (true).
  bool apply_verdict(AuthVerdict verdict);
  // Sets the body limit and reads on into the body; false when answered (413).
  bool accept_body();
  void on_request();
  // Answers before the handler runs. With `close_connection` (framing the
  // parser cannot be trusted on) nothing after the request is read as a
  // next request: the connection closes after the answer.
  void answer_early(Response r, bool close_connection = false);
  // False (the request answered) when the header block or the body's framing
  // is unsafe to serve: see header_scan.hpp and request_framing.hpp.
  bool header_block_ok();
  bool framing_ok();
  bool chunks_ok();
  void send_whole(Response r);
  void send_continue();
  void pump(const std::shared_ptr<ExchangeState>& st);
  void start_write(WriteKind kind);
  void on_write(boost::system::error_code ec, std::size_t n);
  void finish_exchange();
  void log_access(std::string_view outcome);
  // One access-log line for each whole request buffered behind the current
  // one, which the closing connection will never serve.
  void log_unserved(std::string_view why);
  std::string_view unparsed() const;

  void arm(std::chrono::milliseconds d);
  void disarm();
  void on_timer();

  void begin_close(bool linger);
  // At drain: closes an idle connection after `rounds` more turns of the
  // strand (see session.cpp).
  void close_if_idle(int rounds);
  static constexpr int kDrainIdleRounds = 4;
  void continue_close();
  void linger_read();
  void close(Outcome why);
  bool stopping() const;

  ServerCore& core_;
  const std::shared_ptr<const config::LimitsConfig> limits_;  // as they were when the connection came
  std::unique_ptr<Transport> t_;
  boost::asio::any_io_executor strand_;
  boost::asio::steady_timer timer_;
  // While handling: when the write in flight must have completed (max: none).
  // The timer is not re-armed per write; when it fires early it re-checks this.
  boost::asio::steady_timer::time_point write_deadline_ = boost::asio::steady_timer::time_point::max();
  std::string remote_;
  std::string client_;
  std::uint64_t id_ = 0;

  Phase phase_ = Phase::handshake;
  bool reading_ = false;
  bool writing_ = false;
  bool draining_ = false;
  bool close_linger_ = false;
  bool authenticated_ = false;       // a request on this connection passed authentication
  std::uint64_t auth_round_ = 0;     // which request a pending verdict belongs to
  WriteKind write_kind_ = WriteKind::response;
  std::string out_;                  // the bytes of the write in flight
  std::size_t out_body_bytes_ = 0;   // stream body bytes in out_
  std::optional<Response> deferred_; // an answer waiting for the interim write

  // Reads land in read_buf_ and are appended to buffer_ when they complete,
  // so that the parser may consume buffer_ while a read is in flight.
  std::array<char, kReadChunk> read_buf_{};
  boost::beast::flat_buffer buffer_;
  PipelineScan pipeline_;
  HeaderScan header_scan_;
  ChunkScan chunk_scan_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<Request> request_;   // headers, filled in on_header
  Current cur_;
  std::shared_ptr<ExchangeState> exchange_;
  // While a handler holds the current request, nothing else may keep the
  // session alive (no read is in flight once the pipeline is full, and
  // exchanges only point back weakly): it owns itself until the exchange ends
  // in finish_exchange() or close().
  std::shared_ptr<Session> hold_;

  std::array<char, 4096> linger_buf_{};
  std::size_t lingered_ = 0;
};

}  // namespace llmd::http::detail
