#include "daemon/system/listen_fds.hpp"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace llmd::daemon {

Result<std::optional<int>> inherited_listener() {
  const int n = sd_listen_fds(1);
  if (n < 0) return Error(ErrorCode::listen_failed, std::string("socket activation: ") + std::strerror(-n));
  if (n == 0) return std::optional<int>();
  if (n > 1) {
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) ::close(fd);
    return Error(ErrorCode::listen_failed, "socket activation: systemd passed " + std::to_string(n) +
                                               " sockets; llmd.socket must have exactly one ListenStream=");
  }
  const int fd = SD_LISTEN_FDS_START;
  if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0) {
    ::close(fd);
    return Error(ErrorCode::listen_failed,
                 "socket activation: the socket systemd passed is not a listening TCP socket (ListenStream=PORT)");
  }
  return std::optional<int>(fd);
}

}  // namespace llmd::daemon
