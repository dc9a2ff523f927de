#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <memory>

#include "daemon/http/transport.hpp"

namespace llmd::http::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class TlsTransport final : public Transport {
 public:
  TlsTransport(tcp::socket socket, std::shared_ptr<net::ssl::context> ctx)
      : ctx_(std::move(ctx)), stream_(std::move(socket), *ctx_) {}

  net::any_io_executor executor() override { return stream_.get_executor(); }
  bool is_tls() const override { return true; }

  void handshake(DoneCallback cb) override { stream_.async_handshake(net::ssl::stream_base::server, std::move(cb)); }
  void read_some(net::mutable_buffer buf, IoCallback cb) override { stream_.async_read_some(buf, std::move(cb)); }
  void write(net::const_buffer buf, IoCallback cb) override {
    net::async_write(stream_, buf, WriteCompletion{std::move(cb)});
  }
  void shutdown(DoneCallback cb) override { stream_.async_shutdown(std::move(cb)); }

  void shutdown_send() override {
    boost::system::error_code ec;
    stream_.next_layer().shutdown(tcp::socket::shutdown_send, ec);
  }
  void read_raw(net::mutable_buffer buf, IoCallback cb) override {
    stream_.next_layer().async_read_some(buf, std::move(cb));
  }
  std::size_t available() override {
    boost::system::error_code ec;
    std::size_t n = stream_.next_layer().available(ec);
    return ec ? 0 : n;
  }
  void cancel() override {
    boost::system::error_code ec;
    stream_.next_layer().cancel(ec);
  }
  void close() override {
    boost::system::error_code ec;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_.next_layer().close(ec);
  }

 private:
  std::shared_ptr<net::ssl::context> ctx_;  // declared first: outlives the stream
  net::ssl::stream<tcp::socket> stream_;
};

}  // namespace

std::unique_ptr<Transport> make_tls_transport(tcp::socket socket, std::shared_ptr<net::ssl::context> ctx) {
  return std::make_unique<TlsTransport>(std::move(socket), std::move(ctx));
}

}  // namespace llmd::http::detail
