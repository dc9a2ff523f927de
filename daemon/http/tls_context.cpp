#include "daemon/http/tls_context.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>

#include "base/log.hpp"

namespace llmd::http {

namespace {

// Mozilla "intermediate" (server side, 2023): AEAD suites with forward secrecy.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    const char* reason = ERR_reason_error_string(e);
    out += reason ? reason : buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Picks "http/1.1" when the client offers it; otherwise no ALPN (HTTP/1.1 anyway).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  static const unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

void warn_if_expiring(SSL_CTX* ctx, const config::TlsConfig& tls) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return;
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, not_after) != 1) return;
  if (days < 0 || (days == 0 && secs < 0)) {
    log::errorf("TLS certificate %s has expired", tls.cert_file.c_str());
  } else if (days < 30) {
    log::warnf("TLS certificate %s expires in %d days", tls.cert_file.c_str(), days);
  }
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const config::TlsConfig& tls) {
  namespace ssl = boost::asio::ssl;
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();

  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  // Mozilla intermediate leaves the cipher choice to the client: every suite offered is strong.
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(c, 0);                       // TLS 1.3: no resumption tickets either
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);       // idle keep-alive connections hold no buffers
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 || SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(c, kGroups) != 1) {
    return Error(ErrorCode::tls_setup, "cannot configure TLS ciphers: " + openssl_errors());
  }
  SSL_CTX_set_dh_auto(c, 1);
  SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);

  auto where = [](const std::string& origin) { return origin.empty() ? std::string() : origin + ": "; };
  if (SSL_CTX_use_certificate_chain_file(c, tls.cert_file.c_str()) != 1) {
    return Error(ErrorCode::tls_certificate, where(tls.cert_origin) + "tls.cert_file: cannot load certificate '" +
                                        tls.cert_file.string() + "': " + openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(c, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error(ErrorCode::tls_key, where(tls.key_origin) + "tls.key_file: cannot load private key '" +
                                tls.key_file.string() + "': " + openssl_errors());
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return Error(ErrorCode::tls_key, where(tls.key_origin) + "tls.key_file: the private key '" + tls.key_file.string() +
                                "' does not match the certificate '" + tls.cert_file.string() + "'");
  }
  warn_if_expiring(c, tls);
  return ctx;
}

}  // namespace llmd::http
