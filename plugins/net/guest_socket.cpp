// The guest's socket for one call done on its behalf (see guest_socket.h).
#include "guest_socket.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "socket_io.h"

namespace lx::net {

int open_socket(sdk::SyscallContext& c, int guest_fd, GuestSocket& s) {
  int p = open_pidfd(c.pid());
  if (p < 0) return -p;
  s.pidfd = UniqueFd(p);
  int f = take_guest_fd(p, guest_fd);
  if (f < 0) return f == -EINVAL ? EBADF : -f;
  s.fd = UniqueFd(f);
  socklen_t l = sizeof s.domain;
  if (getsockopt(f, SOL_SOCKET, SO_DOMAIN, &s.domain, &l) != 0) return errno;  // ENOTSOCK
  l = sizeof s.type;
  if (getsockopt(f, SOL_SOCKET, SO_TYPE, &s.type, &l) != 0) return errno;
  int fl = fcntl(f, F_GETFL);
  s.nonblocking = fl >= 0 && (fl & O_NONBLOCK);
  return 0;
}

bool translates_returns(const NetState& state, const GuestSocket& s) noexcept {
  if (s.domain == AF_UNIX) return state.paths != nullptr;
  return (s.domain == AF_INET || s.domain == AF_INET6) && !state.ports.empty();
}

std::optional<sdk::SyscallResult> open_returning_socket(const NetState& state, sdk::SyscallContext& c,
                                                        GuestSocket& s) {
  if (int e = open_socket(c, c.fd(0), s); e != 0) return sdk::fail(e);
  if (!translates_returns(state, s)) return sdk::SyscallResult::continue_native();
  return std::nullopt;
}

}  // namespace lx::net
