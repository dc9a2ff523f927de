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

// The value of `key=` among the context's space-separated "key=value" words.
std::string_view context_value(std::string_view context, std::string_view key) {
  while (!context.empty()) {
    const auto end = context.find(' ');
    std::string_view word = context.substr(0, end);
    if (word.size() > key.size() && word.substr(0, key.size()) == key && word[key.size()] == '=') {
      return word.substr(key.size() + 1);
    }
    if (end == std::string_view::npos) break;
    context.remove_prefix(end + 1);
  }
  return {};
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
  // Under journald these become fields: journalctl MODEL=... TEAM=... REQUEST_ID=...
  const log::Field fields[] = {
      {"REQUEST_ID", r.id},
      {"MODEL", context_value(context, "model")},
      {"TEAM", context_value(context, "team")},
  };
  log::write(log::Level::info, line, fields);
}

}  // namespace llmd::http
