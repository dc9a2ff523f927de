#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "daemon/http/transport.hpp"

namespace llmd::http::detail {

namespace net = boost::asio;
using local = net::local::stream_protocol;

namespace {

class UnixTransport final : public Transport {
 public:
  explicit UnixTransport(local::socket socket) : socket_(std::move(socket)) {}

  net::any_io_executor executor() override { return socket_.get_executor(); }
  bool is_tls() const override { return false; }

  void handshake(DoneCallback cb) override {
    net::post(socket_.get_executor(), [cb = std::move(cb)] { cb({}); });
  }
  void read_some(net::mutable_buffer buf, IoCallback cb) override { socket_.async_read_some(buf, std::move(cb)); }
  void write(net::const_buffer buf, IoCallback cb) override { net::async_write(socket_, buf, WriteCompletion{std::move(cb)}); }
  void shutdown(DoneCallback cb) override {
    shutdown_send();
    net::post(socket_.get_executor(), [cb = std::move(cb)] { cb({}); });
  }
  void shutdown_send() override {
    boost::system::error_code ec;
    socket_.shutdown(local::socket::shutdown_send, ec);
  }
  void read_raw(net::mutable_buffer buf, IoCallback cb) override { socket_.async_read_some(buf, std::move(cb)); }
  std::size_t available() override {
    boost::system::error_code ec;
    std::size_t n = socket_.available(ec);
    return ec ? 0 : n;
  }
  void cancel() override {
    boost::system::error_code ec;
    socket_.cancel(ec);
  }
  void close() override {
    boost::system::error_code ec;
    socket_.shutdown(local::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  local::socket socket_;
};

}  // namespace

std::unique_ptr<Transport> make_unix_transport(local::socket socket) {
  return std::make_unique<UnixTransport>(std::move(socket));
}

}  // namespace llmd::http::detail
