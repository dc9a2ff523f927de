#include "daemon/http/access_log.hpp"

#include <cstdio>
#include <string>

#include "base/log.hpp"

namespace llmd::http {

namespace {

// Printable ASCII kept, everything else %XX, at most 200 characters.
void append_sanitized(std::string& out, std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 200) {
      out += "...";
      return;
    }
    if (c > 0x20 && c < 0x7f && c != '"' && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

}  // namespace

void write_access_log(const AccessRecord& r) {
  if (!log::enabled(log::Level::info)) return;
  std::string line = "access remote=";
  line.reserve(160);
  append_sanitized(line, r.remote);
  line += " method=";
  append_sanitized(line, r.method.empty() ? "-" : r.method);
  line += " path=";
  append_sanitized(line, r.path.empty() ? "-" : r.path);
  char buf[96];
  double ms = std::chrono::duration<double, std::milli>(r.elapsed).count();
  std::snprintf(buf, sizeof buf, " status=%d bytes=%zu ms=%.2f", r.status, r.bytes, ms);
  line += buf;
  if (!r.id.empty()) {
    line += " id=";
    append_sanitized(line, r.id);
  }
  if (!r.outcome.empty()) {
    line += " outcome=";
    line += r.outcome;
  }
  std::string_view context = r.context;
  while (!context.empty() && context.front() == ' ') context.remove_prefix(1);
  if (!context.empty()) {
    line += ' ';
    for (char c : context) line += (c == '\n' || c == '\r') ? ' ' : c;
  }
  log::write(log::Level::info, line);
}

}  // namespace llmd::http
