#include "tests/daemon/kit/conn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace llmd::test {

namespace {

std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

int connect_tcp(std::uint16_t port, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (error) *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void apply_timeout(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

constexpr std::chrono::milliseconds kDefaultTimeout{15000};

// Writing to a connection the server has closed must fail, not kill the test.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace

Conn::~Conn() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Conn> Conn::tls(std::uint16_t port, const TlsOptions& opts, std::string* error) {
  ERR_clear_error();
  int fd = connect_tcp(port, error);
  if (fd < 0) return nullptr;
  apply_timeout(fd, kDefaultTimeout);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (opts.security_level >= 0) SSL_CTX_set_security_level(ctx, opts.security_level);
  SSL_CTX_set_min_proto_version(ctx, opts.min_version);
  SSL_CTX_set_max_proto_version(ctx, opts.max_version);
  if (!opts.ciphers.empty()) SSL_CTX_set_cipher_list(ctx, opts.ciphers.c_str());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // the test certificate is self-signed
  SSL* ssl = SSL_new(ctx);
  if (!opts.alpn.empty()) {
    std::string wire(1, static_cast<char>(opts.alpn.size()));
    wire += opts.alpn;
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()), static_cast<unsigned>(wire.size()));
  }
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  std::unique_ptr<Conn> c(new Conn(fd, ctx, ssl));
  if (SSL_connect(ssl) != 1) {
    if (error) *error = "handshake failed: " + ssl_errors();
    return nullptr;
  }
  return c;
}

std::unique_ptr<Conn> Conn::tcp(std::uint16_t port, std::string* error) {
  int fd = connect_tcp(port, error);
  if (fd < 0) return nullptr;
  apply_timeout(fd, kDefaultTimeout);
  return std::unique_ptr<Conn>(new Conn(fd, nullptr, nullptr));
}

std::unique_ptr<Conn> Conn::unix_socket(const std::string& path, std::string* error) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (error) *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  apply_timeout(fd, kDefaultTimeout);
  return std::unique_ptr<Conn>(new Conn(fd, nullptr, nullptr));
}

void Conn::set_timeout(std::chrono::milliseconds t) { apply_timeout(fd_, t); }

bool Conn::send(std::string_view data) {
  while (!data.empty()) {
    long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                  : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

long Conn::recv_some(char* buf, std::size_t n) {
  if (ssl_) {
    int r = SSL_read(ssl_, buf, static_cast<int>(n));
    if (r > 0) return r;
    int err = SSL_get_error(ssl_, r);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
      timed_out_ = true;  // SO_RCVTIMEO expired
    }
    return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  long r = ::recv(fd_, buf, n, 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) timed_out_ = true;
  return r < 0 ? -1 : r;
}

bool Conn::wait_closed(std::chrono::milliseconds timeout) {
  // Like a real client: answer the server's close_notify with ours, then wait
  // for the connection to end (EOF or reset).
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  bool raw = ssl_ == nullptr;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
    if (!raw) {
      int r = SSL_read(ssl_, buf, sizeof buf);
      if (r > 0) continue;
      int err = SSL_get_error(ssl_, r);
      ERR_clear_error();
      if (err == SSL_ERROR_ZERO_RETURN) {
        SSL_shutdown(ssl_);
        raw = true;  // TLS is over; wait for the TCP end
        continue;
      }
      if (err == SSL_ERROR_WANT_READ) continue;
      return true;  // EOF, reset or a TLS failure: the connection is gone
    }
    long r = ::recv(fd_, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

bool Conn::fill() {
  char buf[16384];
  long n = recv_some(buf, sizeof buf);
  if (n <= 0) return false;
  in_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> Conn::read_line() {
  while (true) {
    size_t eol = in_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      return line;
    }
    if (!fill()) return std::nullopt;
  }
}

std::optional<std::string> Conn::read_exact(std::size_t n) {
  while (in_.size() < n) {
    if (!fill()) return std::nullopt;
  }
  std::string out = in_.substr(0, n);
  in_.erase(0, n);
  return out;
}

std::string Conn::read_to_eof() {
  while (fill()) {
  }
  std::string out;
  out.swap(in_);
  return out;
}

std::string Conn::protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }
std::string Conn::cipher() const { return ssl_ ? SSL_get_cipher_name(ssl_) : ""; }
std::string Conn::alpn() const {
  if (!ssl_) return "";
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

// ---------------------------------------------------------------- HTTP

std::string Reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

std::optional<Reply> read_head(Conn& c) {
  auto status_line = c.read_line();
  if (!status_line || status_line->rfind("HTTP/1.", 0) != 0 || status_line->size() < 12) return std::nullopt;
  Reply r;
  r.status = std::atoi(status_line->c_str() + 9);
  while (true) {
    auto line = c.read_line();
    if (!line) return std::nullopt;
    if (line->empty()) break;
    size_t colon = line->find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string value = line->substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers.emplace_back(line->substr(0, colon), value);
  }
  r.chunked = r.header("transfer-encoding") == "chunked";
  return r;
}

std::optional<std::string> read_chunk(Conn& c) {
  auto size_line = c.read_line();
  if (!size_line) return std::nullopt;
  size_t size = std::stoul(*size_line, nullptr, 16);
  std::string data;
  if (size > 0) {
    auto d = c.read_exact(size);
    if (!d) return std::nullopt;
    data = std::move(*d);
  }
  auto crlf = c.read_line();
  if (!crlf || !crlf->empty()) return std::nullopt;
  return data;
}

std::optional<Reply> read_reply(Conn& c) {
  auto r = read_head(c);
  if (!r) return std::nullopt;
  if (r->status == 204 || r->status == 304 || r->status < 200) return r;
  if (r->chunked) {
    while (true) {
      auto chunk = read_chunk(c);
      if (!chunk) return std::nullopt;
      if (chunk->empty()) break;
      r->body += *chunk;
      r->chunks.push_back(std::move(*chunk));
    }
  } else if (std::string len = r->header("content-length"); !len.empty()) {
    auto body = c.read_exact(std::stoul(len));
    if (!body) return std::nullopt;
    r->body = std::move(*body);
  } else {
    r->body = c.read_to_eof();
  }
  return r;
}

std::optional<Reply> get(Conn& c, const std::string& path, const std::string& extra_headers) {
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n")) return std::nullopt;
  return read_reply(c);
}

}  // namespace llmd::test
