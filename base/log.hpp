// Process-wide logging to stderr with syslog priority prefixes ("<3>", "<6>", ...)
// so that journald keeps the level of every line. Thread-safe: one write per line.
// A record may carry structured fields (MODEL=, TEAM=, REQUEST_ID=); the
// stderr sink drops them (the message says the same), a journal sink
// (daemon/system/journal.*) sends them as journal fields.
#pragma once

#include <span>
#include <string_view>

namespace llmd::log {

// syslog(3) priorities.
enum class Level : int { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_level(Level level);
Level level();
bool enabled(Level level);

// Parses "error", "warning", "notice", "info", "debug".
bool parse_level(std::string_view name, Level* out);

void write(Level level, std::string_view message);

// A structured field of a record: `name` is a journal field name (A-Z, 0-9,
// '_', not starting with '_').
struct Field {
  std::string_view name;
  std::string_view value;
};
void write(Level level, std::string_view message, std::span<const Field> fields);

// Where records go (already filtered by level). Null restores the default,
// stderr with the priority prefix. Set once at start, before other threads log.
using Sink = void (*)(Level level, std::string_view message, std::span<const Field> fields);
void set_sink(Sink sink);
// The default sink's output: "<N>message\n" on stderr, one write(2) per line.
void write_stderr(Level level, std::string_view message);

// printf-style helpers.
void errorf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void noticef(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void infof(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debugf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace llmd::log
