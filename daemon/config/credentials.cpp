#include "daemon/config/credentials.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

namespace llmd::config::detail {

namespace {

constexpr std::string_view kVariable = "CREDENTIALS_DIRECTORY";

// $CREDENTIALS_DIRECTORY, or empty when unset or empty (as the shell's ":-").
std::string credentials_directory() {
  const char* v = std::getenv(std::string(kVariable).c_str());
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

std::string expand_credentials(std::string_view value, std::string& out) {
  constexpr std::string_view kOpen = "${";
  if (value.substr(0, kOpen.size()) != kOpen) {
    out = std::string(value);
    return {};
  }
  if (value.substr(kOpen.size(), kVariable.size()) != kVariable) {
    return "only ${CREDENTIALS_DIRECTORY} and ${CREDENTIALS_DIRECTORY:-FALLBACK} are expanded";
  }
  std::string_view rest = value.substr(kOpen.size() + kVariable.size());
  std::string_view fallback;
  bool has_fallback = false;
  if (rest.substr(0, 2) == ":-") {
    has_fallback = true;
    rest.remove_prefix(2);
  } else if (rest.substr(0, 1) != "}") {
    return "only ${CREDENTIALS_DIRECTORY} and ${CREDENTIALS_DIRECTORY:-FALLBACK} are expanded";
  }
  std::size_t close = rest.find('}');
  if (close == std::string_view::npos) return "'${' without its closing '}'";
  if (has_fallback) fallback = rest.substr(0, close);
  rest.remove_prefix(close + 1);

  std::string dir = credentials_directory();
  if (dir.empty()) {
    if (!has_fallback) {
      return "names ${CREDENTIALS_DIRECTORY}, but CREDENTIALS_DIRECTORY is not set (it is set when llmd runs "
             "from a unit with LoadCredential=); add a fallback folder: ${CREDENTIALS_DIRECTORY:-/etc/llmd/tls}";
    }
    dir = std::string(fallback);
    if (dir.empty()) return "the fallback in ${CREDENTIALS_DIRECTORY:-...} is empty";
  } else if (dir.front() != '/') {
    return "CREDENTIALS_DIRECTORY is not an absolute path: '" + dir + "'";
  }
  out = dir + std::string(rest);
  return {};
}

bool in_credentials_directory(const std::filesystem::path& file) {
  std::string dir = credentials_directory();
  if (dir.empty() || dir.front() != '/') return false;
  std::filesystem::path base = std::filesystem::path(dir).lexically_normal();
  std::filesystem::path rel = file.lexically_normal().lexically_relative(base);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

std::string exposed_secret_reason(const std::filesystem::path& file) {
  if (in_credentials_directory(file)) return {};
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  const mode_t open_bits = st.st_mode & (S_IRWXG | S_IRWXO);
  if (open_bits == 0) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  std::string who;
  if (st.st_mode & (S_IRGRP | S_IROTH)) {
    who = (st.st_mode & S_IROTH) ? "readable by others" : "readable by its group";
  } else {
    who = "open to its group or others";
  }
  return "'" + file.string() + "' is " + who + " (mode " + mode + "); a private key must be private to llmd's user: " +
         "chmod 600 '" + file.string() + "', or pass it with LoadCredential= in the unit";
}

}  // namespace llmd::config::detail
