// The server's TLS settings: TLS 1.2 and 1.3 only, Mozilla's "intermediate"
// cipher choice, no compression, no renegotiation, no session tickets, ALPN
// http/1.1. Loads and checks the certificate chain and key.
#pragma once

#include <memory>

#include "daemon/config/config.hpp"
#include "base/result.hpp"

namespace boost::asio::ssl {
class context;
}

namespace llmd::http {

Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const config::TlsConfig& tls);

}  // namespace llmd::http
