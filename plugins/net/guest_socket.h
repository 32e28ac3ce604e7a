// The guest's socket for one call done on its behalf: an fd of ours on the same open file (taken
// through a pidfd of the guest), and what kind of socket it is.
#pragma once

#include <optional>

#include <lxhost/plugin.h>

#include "base/unique_fd.h"
#include "net_state.h"

namespace lx::net {

/// The guest's socket for one call.
struct GuestSocket {
  UniqueFd pidfd;            ///< the guest process (to take the fds its messages carry)
  UniqueFd fd;               ///< the socket, as an fd of ours
  int domain = 0;            ///< SO_DOMAIN
  int type = 0;              ///< SO_TYPE
  bool nonblocking = false;  ///< O_NONBLOCK on the open file
};

/// Opens guest fd `guest_fd` of the caller as its socket: 0, or EBADF/ENOTSOCK as the native call
/// would fail.
int open_socket(sdk::SyscallContext& c, int guest_fd, GuestSocket& s);

/// Whether the addresses socket `s` returns differ between host and guest under `state`.
bool translates_returns(const NetState& state, const GuestSocket& s) noexcept;

/// Opens the socket of argument 0 of a call that returns an address into `s`: nullopt when the
/// call goes on on behalf of the guest, else how it ends here (its error, or natively when the
/// addresses of `s` are the same for host and guest).
std::optional<sdk::SyscallResult> open_returning_socket(const NetState& state, sdk::SyscallContext& c,
                                                        GuestSocket& s);

}  // namespace lx::net
