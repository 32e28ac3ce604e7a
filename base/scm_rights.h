// SCM_RIGHTS: the control message that passes fds over a Unix socket, built once for every sender
// (the service's frames, the kernel backend's messages to init).
#pragma once

#include <sys/socket.h>

#include <cstring>
#include <span>
#include <vector>

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

/// The fds of every SCM_RIGHTS message `msg` received, in order, each owned by the caller
/// (`wrap` makes the owner, e.g. UniqueFd's constructor).
template <class Owner, class Wrap>
void take_fds(msghdr& msg, std::vector<Owner>& out, Wrap wrap) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (std::size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out.push_back(wrap(fd));
      }
}

}  // namespace lx
