#include "base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace llmd::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<Sink> g_sink{nullptr};

void vlogf(Level lvl, const char* fmt, va_list ap) {
  if (!enabled(lvl)) return;
  char buf[4096];
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1;
  write(lvl, std::string_view(buf, len));
}

}  // namespace

void set_level(Level lvl) { g_level.store(static_cast<int>(lvl), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }
bool enabled(Level lvl) { return static_cast<int>(lvl) <= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view name, Level* out) {
  if (name == "error") *out = Level::error;
  else if (name == "warning") *out = Level::warning;
  else if (name == "notice") *out = Level::notice;
  else if (name == "info") *out = Level::info;
  else if (name == "debug") *out = Level::debug;
  else return false;
  return true;
}

void set_sink(Sink sink) { g_sink.store(sink, std::memory_order_release); }

void write(Level lvl, std::string_view message) { write(lvl, message, {}); }

void write(Level lvl, std::string_view message, std::span<const Field> fields) {
  if (!enabled(lvl)) return;
  if (Sink sink = g_sink.load(std::memory_order_acquire)) {
    sink(lvl, message, fields);
  } else {
    write_stderr(lvl, message);
  }
}

void write_stderr(Level lvl, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 8);
  line += '<';
  line += static_cast<char>('0' + static_cast<int>(lvl));
  line += '>';
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;  // one record per line
  line += '\n';
  // A single write(2) keeps lines from different threads whole.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, left);
    if (w <= 0) break;
    p += w;
    left -= static_cast<size_t>(w);
  }
}

#define LLMD_DEFINE_LOGF(name, lvl)      \
  void name(const char* fmt, ...) {      \
    va_list ap;                          \
    va_start(ap, fmt);                   \
    vlogf(lvl, fmt, ap);                 \
    va_end(ap);                          \
  }

LLMD_DEFINE_LOGF(errorf, Level::error)
LLMD_DEFINE_LOGF(warnf, Level::warning)
LLMD_DEFINE_LOGF(noticef, Level::notice)
LLMD_DEFINE_LOGF(infof, Level::info)
LLMD_DEFINE_LOGF(debugf, Level::debug)

#undef LLMD_DEFINE_LOGF

}  // namespace llmd::log
