// A small blocking HTTPS client (Boost.Beast over OpenSSL) for llmctl and the
// end-to-end tests: one request per connection, TLS 1.2+, the server's
// certificate verified against the system CAs or a given CA / self-signed
// certificate, and its name or IP address checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace llmd::client {

struct Url {
  std::string host;       // name or IP literal (IPv6 without brackets)
  std::string port;       // "443" when absent
  std::string base_path;  // path prefix without trailing '/', often empty
};

// Parses "https://host[:port][/prefix]". Errors: url_invalid.
Result<Url> parse_url(std::string_view text);

struct TlsOptions {
  std::string ca_file;       // PEM CA or self-signed certificate to trust; empty: system CAs
  bool verify = true;        // false: accept any certificate (testing only)
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const;  // first value, case-insensitive; empty when absent
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Performs one request. Errors: tls_setup, connect_failed, tls_failed (handshake
// or certificate), io_failed, timeout.
Result<HttpResponse> https_request(const Url& url, const TlsOptions& tls, std::string_view method,
                                   std::string_view path, const HeaderList& headers, std::string_view body,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace llmd::client
