#include "daemon/http/wire.hpp"

#include <cstdio>

namespace llmd::http::detail {

namespace {

bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool server_owned(std::string_view name) {
  static constexpr std::string_view kOwned[] = {"content-length", "transfer-encoding", "connection", "keep-alive",
                                                "x-request-id",   "upgrade",           "te",         "trailer"};
  for (auto n : kOwned) {
    if (iequals(n, name)) return true;
  }
  return false;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  for (char c : value) {
    if (c != '\r' && c != '\n' && c != '\0') out += c;
  }
  out += "\r\n";
}

}  // namespace

bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

void append_head(std::string& out, const Head& head, const Headers& headers) {
  char line[64];
  std::string_view reason = reason_phrase(head.status);
  int n = std::snprintf(line, sizeof line, "HTTP/1.1 %03d ", head.status);
  out.append(line, static_cast<size_t>(n));
  out += reason;
  out += "\r\n";
  for (const auto& [name, value] : headers.fields()) {
    if (name.empty() || server_owned(name)) continue;
    bool valid = true;
    for (char c : name) valid = valid && token_char(c);
    if (valid) append_field(out, name, value);
  }
  if (!head.request_id.empty()) append_field(out, "x-request-id", head.request_id);
  if (status_has_body(head.status)) {
    switch (head.framing) {
      case Framing::length:
        append_field(out, "content-length", std::to_string(head.content_length));
        break;
      case Framing::chunked:
        append_field(out, "transfer-encoding", "chunked");
        break;
      case Framing::close:
        break;
    }
  }
  bool keep_alive = head.keep_alive && head.framing != Framing::close;
  if (!keep_alive) {
    append_field(out, "connection", "close");
  } else if (head.request_version == 10) {
    append_field(out, "connection", "keep-alive");
  }
  out += "\r\n";
}

void append_response(std::string& out, const Response& r, int request_version, std::string_view request_id,
                     bool keep_alive) {
  Head h;
  h.status = r.status;
  h.request_version = request_version;
  h.request_id = request_id;
  h.framing = Framing::length;
  h.content_length = status_has_body(r.status) ? r.body.size() : 0;
  h.keep_alive = keep_alive;
  out.reserve(out.size() + 256 + r.body.size());
  append_head(out, h, r.headers);
  if (status_has_body(r.status)) out += r.body;
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;  // an empty chunk would end the body
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<size_t>(n));
  out += data;
  out += "\r\n";
}

void append_last_chunk(std::string& out) { out += "0\r\n\r\n"; }

}  // namespace llmd::http::detail
