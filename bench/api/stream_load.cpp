#include "bench/api/stream_load.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <optional>

namespace llmd::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Shared {
  LoadOptions opt;
  Clock::time_point start;
  Clock::time_point deadline;
  Clock::time_point last_done;
  std::string body;
  LoadResult result;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(net::io_context& io, ssl::context& ctx, Shared& shared) : io_(io), ctx_(ctx), shared_(shared) {}

  void connect() {
    stream_.emplace(io_, ctx_);
    buffer_.clear();
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), shared_.opt.port);
    beast::get_lowest_layer(*stream_).async_connect(ep, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail("connect: " + ec.message());
      beast::get_lowest_layer(*self->stream_).socket().set_option(tcp::no_delay(true));
      self->stream_->async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
        if (ec) return self->fail("handshake: " + ec.message());
        self->send();
      });
    });
  }

 private:
  void send() {
    if (Clock::now() >= shared_.deadline) return close();
    req_ = {http::verb::post, shared_.opt.chat ? "/v1/chat/completions" : "/v1/completions", 11};
    req_.set(http::field::host, "127.0.0.1");
    req_.set(http::field::authorization, "Bearer " + shared_.opt.key);
    req_.set(http::field::content_type, "application/json");
    req_.body() = shared_.body;
    req_.prepare_payload();
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->on_chunk_body(on_chunk_);  // held by reference: a member
    sse_.clear();
    saw_token_ = false;
    saw_done_ = false;
    usage_tokens_ = -1;
    sent_ = Clock::now();
    http::async_write(*stream_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("write: " + ec.message());
      http::async_read(*self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, std::size_t) { self->on_response(ec); });
    });
  }

  void consume(beast::string_view bytes) {
    sse_.append(bytes.data(), bytes.size());
    size_t start = 0;
    for (size_t end = sse_.find("\n\n"); end != std::string::npos; end = sse_.find("\n\n", start)) {
      std::string_view ev(sse_.data() + start, end - start);
      start = end + 2;
      if (ev == "data: [DONE]") {
        saw_done_ = true;
      } else if (size_t u = ev.find("\"completion_tokens\":"); u != std::string_view::npos) {
        usage_tokens_ = std::atoll(ev.data() + u + 20);
      } else if (ev.find(shared_.opt.chat ? "\"delta\":{\"content\":" : "\"text\":\"") != std::string_view::npos) {
        ++shared_.result.events;
        if (!saw_token_) {
          saw_token_ = true;
          shared_.result.ttft_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
        }
      }
    }
    sse_.erase(0, start);
  }

  void on_response(beast::error_code ec) {
    if (ec) return fail("read: " + ec.message());
    if (parser_->get().result_int() != 200) {
      return fail("status " + std::to_string(parser_->get().result_int()) + ": " + parser_->get().body());
    }
    if (!saw_done_ || usage_tokens_ < 0) return fail("a stream ended without usage and [DONE]");
    ++shared_.result.requests;
    shared_.result.tokens += usage_tokens_;
    shared_.last_done = Clock::now();
    if (!parser_->keep_alive()) return connect();
    send();
  }

  void fail(const std::string& why) {
    ++shared_.result.errors;
    if (shared_.result.first_error.empty()) shared_.result.first_error = why;
    if (Clock::now() < shared_.deadline) connect();
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*stream_).close();
  }

  net::io_context& io_;
  ssl::context& ctx_;
  Shared& shared_;
  std::optional<ssl::stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk_ =
      [this](std::uint64_t, beast::string_view body, beast::error_code&) {
        consume(body);
        return body.size();
      };
  std::string sse_;
  Clock::time_point sent_;
  bool saw_token_ = false;
  bool saw_done_ = false;
  int64_t usage_tokens_ = -1;
};

}  // namespace

LoadResult run_load(const LoadOptions& opt) {
  Shared shared;
  shared.opt = opt;
  const std::string prompt_field = opt.chat ? R"("messages":[{"role":"user","content":"Once upon a time"}])"
                                            : R"("prompt":"Once upon a time")";
  shared.body = R"({"model":")" + opt.model + "\"," + prompt_field + R"(,"max_tokens":)" +
                std::to_string(opt.max_tokens) +
                R"(,"temperature":0.8,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})";
  net::io_context io(1);
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  ctx.load_verify_file(opt.ca_file, ec);
  if (ec) {
    shared.result.errors = 1;
    shared.result.first_error = "CA file: " + ec.message();
    return shared.result;
  }
  shared.start = Clock::now();
  shared.deadline = shared.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.seconds));
  shared.last_done = shared.start;
  for (int i = 0; i < opt.clients; ++i) std::make_shared<Client>(io, ctx, shared)->connect();
  io.run();
  shared.result.elapsed_s = std::chrono::duration<double>(shared.last_done - shared.start).count();
  return shared.result;
}

}  // namespace llmd::bench
