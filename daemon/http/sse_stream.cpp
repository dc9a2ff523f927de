#include "daemon/http/sse_stream.hpp"

namespace llmd::http::sse {

bool begin(Exchange& ex, Headers extra) {
  extra.set("content-type", "text/event-stream; charset=utf-8");
  extra.set("cache-control", "no-cache");
  extra.set("x-accel-buffering", "no");
  return ex.begin_stream(200, std::move(extra));
}

std::string format_event(std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(data.size() + name.size() + 16);
  if (!name.empty()) {
    out += "event: ";
    for (char c : name) out += (c == '\r' || c == '\n') ? ' ' : c;
    out += '\n';
  }
  // Split on \r\n, \r or \n: each line is its own "data:" field.
  size_t start = 0;
  while (true) {
    size_t eol = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
    out += '\n';
    if (eol == std::string_view::npos) break;
    start = eol + ((data[eol] == '\r' && eol + 1 < data.size() && data[eol + 1] == '\n') ? 2 : 1);
  }
  out += '\n';
  return out;
}

bool send_data(Exchange& ex, std::string_view data) { return ex.write(format_event({}, data)); }

bool send_event(Exchange& ex, std::string_view name, std::string_view data) {
  return ex.write(format_event(name, data));
}

bool send_comment(Exchange& ex, std::string_view text) {
  std::string line = ": ";
  for (char c : text) line += (c == '\r' || c == '\n') ? ' ' : c;
  line += "\n\n";
  return ex.write(line);
}

bool send_done(Exchange& ex) { return ex.write("data: [DONE]\n\n") && ex.end_stream(); }

}  // namespace llmd::http::sse
