#include "daemon/metrics/metrics_listener.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "base/log.hpp"

namespace llmd::metrics {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr auto kTimeout = std::chrono::seconds(10);

bool token_matches(std::string_view header, const std::string& token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() != kBearer.size() + token.size() || header.substr(0, kBearer.size()) != kBearer) return false;
  return CRYPTO_memcmp(header.data() + kBearer.size(), token.data(), token.size()) == 0;
}

struct Shared {
  ListenerOptions options;
  std::function<std::string()> render;
  std::atomic<int> connections{0};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}
  ~Connection() { shared_->connections.fetch_sub(1); }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);
    stream_.expires_after(kTimeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) {
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
        respond(bhttp::status::payload_too_large, "request too large\n", false);
      }
      return;  // timeout, closed, or malformed: drop the connection
    }
    const auto& req = parser_->get();
    const bool keep = req.keep_alive();
    if (req.target() != "/metrics" && req.target().substr(0, 9) != "/metrics?") {
      return respond(bhttp::status::not_found, "not found: the metrics are at /metrics\n", keep);
    }
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
      return respond(bhttp::status::method_not_allowed, "use GET\n", keep);
    }
    if (!shared_->options.token.empty() &&
        !token_matches(std::string_view(req[bhttp::field::authorization]), shared_->options.token)) {
      return respond(bhttp::status::unauthorized, "a bearer token is required\n", keep);
    }
    std::string body;
    try {
      body = shared_->render();
    } catch (const std::exception& e) {
      log::errorf("metrics: rendering failed: %s", e.what());
      return respond(bhttp::status::internal_server_error, "metrics unavailable\n", false);
    }
    respond(bhttp::status::ok, std::move(body), keep, req.method() == bhttp::verb::head);
  }

  void respond(bhttp::status status, std::string body, bool keep, bool head = false) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(status, 11);
    res->set(bhttp::field::server, "llmd");
    res->set(bhttp::field::content_type,
             status == bhttp::status::ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8");
    if (status == bhttp::status::unauthorized) res->set(bhttp::field::www_authenticate, "Bearer");
    res->keep_alive(keep);
    res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->body().clear();
    stream_.expires_after(kTimeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> parser_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace

struct MetricsListener::Impl {
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::thread thread;
  uint16_t port = 0;
  bool stopped = false;

  void accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != net::error::operation_aborted) accept();
        return;
      }
      if (shared->connections.fetch_add(1) >= shared->options.max_connections) {
        shared->connections.fetch_sub(1);
        beast::error_code ignored;
        socket.close(ignored);  // over the cap: closed at once
      } else {
        std::make_shared<Connection>(std::move(socket), shared)->read();
      }
      accept();
    });
  }
};

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(const ListenerOptions& options,
                                                               std::function<std::string()> render) {
  auto impl = std::make_unique<Impl>();
  impl->shared->options = options;
  impl->shared->render = std::move(render);
  beast::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) return Error(ErrorCode::invalid_config, "[metrics] address '" + options.address + "' is not an IP address");
  const tcp::endpoint endpoint(address, options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(ErrorCode::listen_failed, "metrics: cannot listen on " + options.address + ":" +
                                          std::to_string(options.port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint(ec).port();
  impl->accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    try {
      raw->io.run();
    } catch (const std::exception& e) {
      log::errorf("metrics: listener stopped: %s", e.what());
    }
  });
  return std::unique_ptr<MetricsListener>(new MetricsListener(std::move(impl)));
}

MetricsListener::MetricsListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsListener::~MetricsListener() { stop(); }

uint16_t MetricsListener::port() const { return impl_->port; }

void MetricsListener::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  net::post(impl_->io, [raw = impl_.get()] {
    beast::error_code ignored;
    raw->acceptor.close(ignored);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace llmd::metrics
