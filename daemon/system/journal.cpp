#include "daemon/system/journal.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

namespace llmd::daemon {

namespace {

bool valid_field_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '_' || (name.front() >= '0' && name.front() <= '9')) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

void journal_sink(log::Level level, std::string_view message, std::span<const log::Field> fields) {
  const std::vector<std::string> entry = journal_entry(level, message, fields);
  std::vector<struct iovec> iov;
  iov.reserve(entry.size());
  for (const auto& e : entry) iov.push_back({const_cast<char*>(e.data()), e.size()});
  if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0) log::write_stderr(level, message);
}

}  // namespace

bool journal_stream_matches(std::string_view journal_stream, int fd) {
  const auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long dev = 0, ino = 0;
  const char* b = journal_stream.data();
  auto d = std::from_chars(b, b + colon, dev);
  auto i = std::from_chars(b + colon + 1, b + journal_stream.size(), ino);
  if (d.ec != std::errc() || d.ptr != b + colon || i.ec != std::errc() || i.ptr != b + journal_stream.size()) {
    return false;
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

std::vector<std::string> journal_entry(log::Level level, std::string_view message,
                                       std::span<const log::Field> fields) {
  std::vector<std::string> out;
  out.reserve(3 + fields.size());
  out.push_back("MESSAGE=" + std::string(message));
  out.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
  out.emplace_back("SYSLOG_IDENTIFIER=llmd");
  for (const auto& f : fields) {
    if (!valid_field_name(f.name) || f.value.empty()) continue;
    if (f.name == "MESSAGE" || f.name == "PRIORITY" || f.name == "SYSLOG_IDENTIFIER") continue;
    std::string e(f.name);
    e += '=';
    e += f.value;
    out.push_back(std::move(e));
  }
  return out;
}

bool use_journal_when_connected() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr || !journal_stream_matches(stream, STDERR_FILENO)) return false;
  log::set_sink(journal_sink);
  return true;
}

}  // namespace llmd::daemon
