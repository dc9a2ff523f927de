// Test client connections written directly against OpenSSL and POSIX sockets,
// independent of the server's own networking code: TLS over TCP (with any
// protocol version and security level, so that old protocols can be offered),
// raw TCP, and unix sockets. Blocking, with a per-operation timeout.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmd::test {

struct TlsOptions {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  int security_level = -1;  // -1: OpenSSL's default
  std::string ciphers;      // TLS 1.2 and older cipher list; empty: default
  std::string alpn;         // offered protocol, e.g. "http/1.1"; empty: none
};

class Conn {
 public:
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Null with `error` set when the connection or the handshake fails.
  static std::unique_ptr<Conn> tls(std::uint16_t port, const TlsOptions& opts = {}, std::string* error = nullptr);
  static std::unique_ptr<Conn> tcp(std::uint16_t port, std::string* error = nullptr);
  static std::unique_ptr<Conn> unix_socket(const std::string& path, std::string* error = nullptr);

  void set_timeout(std::chrono::milliseconds t);

  bool send(std::string_view data);
  // Reads what is available (blocking up to the timeout). >0 bytes, 0 on an
  // orderly close, -1 on an error, a reset or a timeout.
  long recv_some(char* buf, std::size_t n);
  // Waits until the server closes the connection (EOF or reset), discarding
  // what arrives. False on timeout.
  bool wait_closed(std::chrono::milliseconds timeout);

  // Buffered reading for the HTTP reader.
  std::optional<std::string> read_line();             // without CRLF
  std::optional<std::string> read_exact(std::size_t n);
  std::string read_to_eof();

  // True once a read has given up at the timeout (rather than seeing the end).
  bool timed_out() const { return timed_out_; }

  std::string protocol() const;  // "TLSv1.3", or "" without TLS
  std::string cipher() const;
  std::string alpn() const;
  SSL* ssl() { return ssl_; }
  int fd() const { return fd_; }

 private:
  Conn(int fd, SSL_CTX* ctx, SSL* ssl) : fd_(fd), ctx_(ctx), ssl_(ssl) {}
  bool fill();

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string in_;
  bool timed_out_ = false;
};

struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::string> chunks;  // for chunked bodies: each chunk's data
  bool chunked = false;

  std::string header(std::string_view name) const;  // case-insensitive, "" when absent
};

// Reads the status line and headers.
std::optional<Reply> read_head(Conn& c);
// Reads one chunk of a chunked body: its data, "" for the last chunk.
std::optional<std::string> read_chunk(Conn& c);
// Reads a whole response (content-length, chunked, or until close).
std::optional<Reply> read_reply(Conn& c);

// Sends "GET path" (HTTP/1.1, Host, optional extra header lines) and reads the reply.
std::optional<Reply> get(Conn& c, const std::string& path, const std::string& extra_headers = "");

}  // namespace llmd::test
