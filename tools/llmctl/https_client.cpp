#include "tools/llmctl/https_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace llmd::client {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string what_failed(const boost::system::error_code& ec) {
  std::string msg = ec.message();
  if (ec.category() == net::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
    msg = buf;
  }
  return msg;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (ieq(k, name)) return v;
  }
  return {};
}

Result<Url> parse_url(std::string_view text) {
  constexpr std::string_view scheme = "https://";
  if (text.substr(0, scheme.size()) != scheme) {
    return Error(ErrorCode::url_invalid, "the URL must start with https:// (got '" + std::string(text.substr(0, 64)) + "')");
  }
  std::string_view rest = text.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Url url;
  url.base_path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error(ErrorCode::url_invalid, "unclosed '[' in the URL");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() == ':') url.port = std::string(after.substr(1));
    else if (!after.empty()) return Error(ErrorCode::url_invalid, "unexpected text after ']' in the URL");
  } else {
    size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) url.port = std::string(authority.substr(colon + 1));
  }
  if (url.port.empty()) url.port = "443";
  if (url.host.empty()) return Error(ErrorCode::url_invalid, "the URL has no host");
  if (!std::all_of(url.port.begin(), url.port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      url.port.size() > 5) {
    return Error(ErrorCode::url_invalid, "the URL's port is not a number");
  }
  return url;
}

Result<HttpResponse> https_request(const Url& url, const TlsOptions& tls, std::string_view method,
                                   std::string_view path, const HeaderList& headers, std::string_view body,
                                   std::chrono::milliseconds timeout) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (tls.verify) {
    ctx.set_verify_mode(ssl::verify_peer, ec);
    if (!tls.ca_file.empty()) {
      ctx.load_verify_file(tls.ca_file, ec);
      if (ec) return Error(ErrorCode::tls_setup, "cannot load CA file " + tls.ca_file + ": " + what_failed(ec));
    } else {
      ctx.set_default_verify_paths(ec);
    }
  } else {
    ctx.set_verify_mode(ssl::verify_none, ec);
  }

  net::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  SSL* ssl_handle = stream.native_handle();
  boost::system::error_code addr_ec;
  auto ip = net::ip::make_address(url.host, addr_ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  if (!addr_ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
  }
  (void)ip;

  net::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) return Error(ErrorCode::connect_failed, "cannot resolve " + url.host + ": " + ec.message());
  beast::get_lowest_layer(stream).expires_after(timeout);
  beast::get_lowest_layer(stream).connect(endpoints, ec);
  if (ec) return Error(ErrorCode::connect_failed, "cannot connect to " + url.host + ":" + url.port + ": " + ec.message());
  // The request follows the handshake's last record at once: without this,
  // the kernel holds it back until the server acknowledges that record.
  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().set_option(net::ip::tcp::no_delay(true), ignored);
  beast::get_lowest_layer(stream).expires_after(timeout);
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) {
    long verify = SSL_get_verify_result(ssl_handle);
    std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : what_failed(ec);
    return Error(ErrorCode::tls_failed, "TLS handshake with " + url.host + ":" + url.port + " failed: " + why +
                                   (verify != X509_V_OK ? " (pass --cacert FILE to trust its certificate)" : ""));
  }

  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(url.base_path + std::string(path));
  req.version(11);
  std::string host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  req.set(bhttp::field::host, host_header + ":" + url.port);
  req.set(bhttp::field::user_agent, "llmctl");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") req.prepare_payload();
  req.keep_alive(false);

  beast::get_lowest_layer(stream).expires_after(timeout);
  bhttp::write(stream, req, ec);
  if (ec) return Error(ec == beast::error::timeout ? ErrorCode::timeout : ErrorCode::io_error, "sending the request failed: " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) return Error(ec == beast::error::timeout ? ErrorCode::timeout : ErrorCode::io_error, "reading the answer failed: " + ec.message());
  auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  stream.shutdown(ec);  // the server may just close: not an error for us
  return out;
}

}  // namespace llmd::client
