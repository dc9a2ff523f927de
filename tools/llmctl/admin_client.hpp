// AdminClient: llmctl's view of the admin REST API: authenticated JSON calls
// whose non-2xx answers become errors carrying the server's message.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>

#include "base/result.hpp"
#include "tools/llmctl/https_client.hpp"

namespace llmd::llmctl {

class AdminClient {
 public:
  AdminClient(client::Url url, client::TlsOptions tls, std::string key)
      : url_(std::move(url)), tls_(std::move(tls)), key_(std::move(key)) {}

  // JSON in, JSON out. Errors: the transport's, or http_<status> with the
  // server's error message.
  Result<boost::json::value> call(std::string_view method, std::string_view path,
                                  const std::optional<boost::json::value>& body = std::nullopt);
  // The raw body of a GET with the given Accept header.
  Result<std::string> get_text(std::string_view path, std::string_view accept);

 private:
  Result<client::HttpResponse> send(std::string_view method, std::string_view path, client::HeaderList headers,
                                    std::string_view body);

  client::Url url_;
  client::TlsOptions tls_;
  std::string key_;
};

// Percent-encodes a path segment or query value.
std::string url_encode(std::string_view s);

}  // namespace llmd::llmctl
