// Process-wide logging to stderr with syslog priority prefixes ("<3>", "<6>", ...)
// so that journald keeps the level of every line. Thread-safe: one write per line.
#pragma once

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

// printf-style helpers.
void errorf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void noticef(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void infof(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debugf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace llmd::log
