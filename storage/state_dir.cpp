#include "storage/state_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace llmd::storage {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Status ensure_private_dir(const std::string& dir) {
  if (dir.empty()) return Error(ErrorCode::state_dir_invalid, "the state directory is not set");
  // Create each missing component; only the last one is forced to 0700.
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), pos == dir.size() ? 0700 : 0755) != 0 && errno != EEXIST) {
      return Error(ErrorCode::state_dir_invalid, "cannot create directory " + part + ": " + errno_text());
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return Error(ErrorCode::state_dir_invalid, "cannot stat " + dir + ": " + errno_text());
  }
  if (!S_ISDIR(st.st_mode)) return Error(ErrorCode::state_dir_invalid, dir + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    // root may work in a service user's directory (llmd bootstrap-admin under
    // systemd's DynamicUser); it must already be private.
    if (::geteuid() == 0 && (st.st_mode & 077) == 0) return ok_status();
    return Error(ErrorCode::state_dir_invalid, "state directory " + dir + " is owned by another user" +
                                          (::geteuid() == 0 ? " and open to others" : ""));
  }
  if ((st.st_mode & 0777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    return Error(ErrorCode::state_dir_invalid, "cannot set mode 0700 on " + dir + ": " + errno_text());
  }
  return ok_status();
}

std::string database_path(const std::string& state_dir) {
  std::string p = state_dir;
  if (!p.empty() && p.back() != '/') p += '/';
  return p + "llmd.db";
}

Result<InstanceLock> InstanceLock::acquire(const std::string& dir) {
  std::string path = dir + "/llmd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error(ErrorCode::state_dir_invalid, "cannot open " + path + ": " + errno_text());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) {
      return Error(ErrorCode::state_dir_locked, "another llmd is already using the state directory " + dir);
    }
    return Error(ErrorCode::state_dir_invalid, "cannot lock " + path + ": " + std::strerror(e));
  }
  return InstanceLock(fd);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace llmd::storage
