// SCM_RIGHTS: the control message that passes fds over a Unix socket, built once for every sender
// (the service's frames, the kernel backend's messages to init).
#pragma once

#include <sys/socket.h>

#include <cstring>
#include <span>

namespace lx {

/// Puts `fds` into `msg` as one SCM_RIGHTS message, in `control` (at least
/// CMSG_SPACE(sizeof(int) * fds.size()) bytes, aligned for cmsghdr); `fds` must not be empty.
inline void attach_fds(msghdr& msg, char* control, std::span<const int> fds) noexcept {
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
}

}  // namespace lx
