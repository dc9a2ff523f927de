// Socket activation: the listening TCP socket systemd passes when llmd.socket
// starts llmd (LISTEN_FDS and LISTEN_PID, sd_listen_fds(3)).
#pragma once

#include <optional>

#include "base/result.hpp"

namespace llmd::daemon {

// The socket systemd passed for this process, or nullopt when none was
// (started directly, or by llmd.service alone). Clears LISTEN_FDS and
// LISTEN_PID so that child processes do not take it. Errors: a passed socket
// that is not a listening TCP stream socket (the unit names the wrong kind),
// or more than one socket (llmd.socket has one ListenStream=).
Result<std::optional<int>> inherited_listener();

}  // namespace llmd::daemon
