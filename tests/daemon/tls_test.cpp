// TLS policy: 1.2 and 1.3 accepted; 1.0, 1.1, weak ciphers and renegotiation
// refused; handshake timeout. The client is OpenSSL used directly, able to
// offer old protocols (security level 0); a permissive control server proves
// that it really does speak them, so a refusal by llmd means something.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <chrono>
#include <thread>

#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/test_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

// Accepts one TLS connection with every protocol and cipher OpenSSL still has.
class PermissiveServer {
 public:
  explicit PermissiveServer(const std::filesystem::path& dir) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
    SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
    SSL_CTX_use_certificate_chain_file(ctx_, (dir / "cert.pem").c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, (dir / "key.pem").c_str(), SSL_FILETYPE_PEM);
    thread_ = std::thread([this] {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        char b;
        SSL_read(ssl, &b, 1);  // until the client closes
      }
      SSL_free(ssl);
      ::close(fd);
    });
  }
  ~PermissiveServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
    SSL_CTX_free(ctx_);
  }
  std::uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
};

TlsOptions legacy(int version, const std::string& ciphers = "ALL:@SECLEVEL=0") {
  TlsOptions o;
  o.min_version = version;
  o.max_version = version;
  o.security_level = 0;
  o.ciphers = ciphers;
  return o;
}

class TlsTest : public ::testing::Test {
 protected:
  TestServer srv{[](config::Config& c) { c.limits.handshake_timeout = 500ms; }};
};

TEST_F(TlsTest, Tls13Succeeds) {
  TlsOptions o;
  o.min_version = o.max_version = TLS1_3_VERSION;
  std::string err;
  auto c = Conn::tls(srv.port(), o, &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->protocol(), "TLSv1.3");
  auto r = get(*c, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(SSL_get_current_compression(c->ssl()), nullptr);
}

TEST_F(TlsTest, Tls12SucceedsWithAnAeadCipher) {
  TlsOptions o;
  o.min_version = o.max_version = TLS1_2_VERSION;
  std::string err;
  auto c = Conn::tls(srv.port(), o, &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->protocol(), "TLSv1.2");
  std::string cipher = c->cipher();
  EXPECT_EQ(cipher.rfind("ECDHE-", 0), 0u) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos || cipher.find("CHACHA20") != std::string::npos) << cipher;
  auto r = get(*c, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsTest, Tls10And11AreRefused) {
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    SCOPED_TRACE(version == TLS1_VERSION ? "TLS 1.0" : "TLS 1.1");
    {
      // The client does speak this version: a permissive server accepts it.
      PermissiveServer control(srv.dir().path());
      std::string err;
      auto c = Conn::tls(control.port(), legacy(version), &err);
      ASSERT_TRUE(c) << "the test client cannot speak this version: " << err;
      EXPECT_EQ(c->protocol(), version == TLS1_VERSION ? "TLSv1" : "TLSv1.1");
    }
    std::string err;
    auto c = Conn::tls(srv.port(), legacy(version), &err);
    EXPECT_FALSE(c) << "llmd accepted " << (c ? c->protocol() : "");
    EXPECT_NE(err.find("handshake failed"), std::string::npos) << err;
  }
  // Still serving.
  auto ok = Conn::tls(srv.port());
  ASSERT_TRUE(ok);
  EXPECT_EQ(get(*ok, "/healthz")->status, 200);
}

TEST_F(TlsTest, WeakTls12CiphersAreRefused) {
  // CBC with SHA-1 MACs: fine for OpenSSL at level 0, not in Mozilla's intermediate list.
  const std::string weak = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0";
  {
    PermissiveServer control(srv.dir().path());
    std::string err;
    auto c = Conn::tls(control.port(), legacy(TLS1_2_VERSION, weak), &err);
    ASSERT_TRUE(c) << err;
  }
  std::string err;
  auto c = Conn::tls(srv.port(), legacy(TLS1_2_VERSION, weak), &err);
  EXPECT_FALSE(c) << "llmd accepted " << (c ? c->cipher() : "");
}

TEST_F(TlsTest, RenegotiationIsRefused) {
  TlsOptions o;
  o.min_version = o.max_version = TLS1_2_VERSION;
  auto c = Conn::tls(srv.port(), o);
  ASSERT_TRUE(c);
  c->set_timeout(5s);
  ASSERT_EQ(SSL_renegotiate(c->ssl()), 1);
  int rc = SSL_do_handshake(c->ssl());
  ERR_clear_error();
  EXPECT_NE(rc, 1) << "the server renegotiated";
  // Other clients are unaffected.
  auto other = Conn::tls(srv.port());
  ASSERT_TRUE(other);
  EXPECT_EQ(get(*other, "/healthz")->status, 200);
}

TEST_F(TlsTest, AlpnSelectsHttp11) {
  TlsOptions o;
  o.alpn = "http/1.1";
  auto c = Conn::tls(srv.port(), o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->alpn(), "http/1.1");
  o.alpn = "h2";  // not spoken: no ALPN, and HTTP/1.1 still works
  auto h2 = Conn::tls(srv.port(), o);
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->alpn(), "");
  EXPECT_EQ(get(*h2, "/healthz")->status, 200);
}

TEST_F(TlsTest, SilentClientIsClosedAtTheHandshakeTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto c = Conn::tcp(srv.port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->wait_closed(20s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 450ms);
}

}  // namespace
}  // namespace llmd::test
