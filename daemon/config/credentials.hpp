// Secrets in the config: paths into systemd's credentials directory and the
// privacy of key files.
//
// A path value may start with "${CREDENTIALS_DIRECTORY}" or
// "${CREDENTIALS_DIRECTORY:-FALLBACK}": the directory where systemd puts the
// unit's LoadCredential= files (private to the service's user, on a
// non-swappable file system). With the fallback form the same config also
// works outside the unit (llmd check-config from a shell, a manual start).
// Nothing else in a path is expanded.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace llmd::config::detail {

// Expands a leading ${CREDENTIALS_DIRECTORY} (or its :-FALLBACK form) in
// `value` from the environment into `out`. Returns an empty string on success,
// else why the value cannot be used (the variable is unset with no fallback,
// or it holds a relative path). A value without the prefix is copied as is.
std::string expand_credentials(std::string_view value, std::string& out);

// True when `file` lies inside $CREDENTIALS_DIRECTORY (when that is set).
bool in_credentials_directory(const std::filesystem::path& file);

// Empty when `file` is private to its owner (no permission bits for group or
// others) or lies in the credentials directory; else a sentence saying who
// may read it, its mode, and how to fix it. A file that cannot be examined
// yields empty: the caller reports unreadable files on its own.
std::string exposed_secret_reason(const std::filesystem::path& file);

}  // namespace llmd::config::detail
