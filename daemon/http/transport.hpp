// A connection's byte stream as the session sees it: TLS over TCP, or plain
// over a unix socket. Completion callbacks run on the connection's strand
// (the socket's executor). One read and one write may be in flight at once.
// Internal to http/.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>

namespace boost::asio::ssl {
class context;
}

namespace llmd::http::detail {

using IoCallback = std::function<void(boost::system::error_code, std::size_t)>;
using DoneCallback = std::function<void(boost::system::error_code)>;

// A write's completion continues the work of the thread that started the
// write (the connection's strand, on an I/O thread): marked as a continuation,
// Asio queues it on that thread instead of waking another I/O thread for it.
struct WriteCompletion {
  IoCallback cb;
  void operator()(boost::system::error_code ec, std::size_t n) { cb(ec, n); }
  friend bool asio_handler_is_continuation(WriteCompletion*) { return true; }
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual boost::asio::any_io_executor executor() = 0;
  virtual bool is_tls() const = 0;

  // TLS handshake; plain transports succeed at once.
  virtual void handshake(DoneCallback cb) = 0;
  virtual void read_some(boost::asio::mutable_buffer buf, IoCallback cb) = 0;
  // Writes the whole buffer.
  virtual void write(boost::asio::const_buffer buf, IoCallback cb) = 0;
  // Orderly end: TLS close_notify (waits for the peer's), or a plain FIN.
  virtual void shutdown(DoneCallback cb) = 0;

  // Lingering close after an error response: half-close the connection and
  // read (and drop) the raw bytes the client is still sending, so that the
  // kernel does not reset the connection before the client has read our answer.
  virtual void shutdown_send() = 0;
  virtual void read_raw(boost::asio::mutable_buffer buf, IoCallback cb) = 0;

  // Bytes received by the kernel and not read yet (encrypted bytes for TLS).
  virtual std::size_t available() = 0;
  // Cancels pending reads and writes (they complete with operation_aborted).
  virtual void cancel() = 0;
  virtual void close() = 0;
};

// The transport keeps `ctx` alive (a reload may replace the server's).
std::unique_ptr<Transport> make_tls_transport(boost::asio::ip::tcp::socket socket,
                                              std::shared_ptr<boost::asio::ssl::context> ctx);
std::unique_ptr<Transport> make_unix_transport(boost::asio::local::stream_protocol::socket socket);

}  // namespace llmd::http::detail
