// HTTP/1.1 response bytes: status line, headers, body framing. Responses are
// built into one buffer so that each goes out in as few TLS records as
// possible. Internal to http/.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "daemon/http/message.hpp"

namespace llmd::http::detail {

enum class Framing {
  length,   // content-length
  chunked,  // transfer-encoding: chunked (streams to HTTP/1.1 clients)
  close,    // body ends when the connection closes (streams to HTTP/1.0 clients)
};

struct Head {
  int status = 200;
  int request_version = 11;  // the client's version: 10 or 11
  std::string_view request_id;
  Framing framing = Framing::length;
  std::size_t content_length = 0;  // with Framing::length
  bool keep_alive = true;
};

// Appends the status line and headers (the handler's `headers` minus the
// framing and connection fields, which the server owns).
void append_head(std::string& out, const Head& head, const Headers& headers);

// Appends a whole response with a content-length body.
void append_response(std::string& out, const Response& r, int request_version, std::string_view request_id,
                     bool keep_alive);

void append_chunk(std::string& out, std::string_view data);
void append_last_chunk(std::string& out);

// Statuses that never carry a body (1xx, 204, 304).
bool status_has_body(int status);

}  // namespace llmd::http::detail
