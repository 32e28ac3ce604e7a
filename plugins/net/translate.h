// Address translation between guest and host terms: the loopback policy and the port map on the
// addresses a guest passes, AF_UNIX paths into the guest root (through the fs family's resolver),
// and the way back for the addresses the kernel returns.
#pragma once

#include <cstdint>
#include <string>

#include <lxhost/syscall_context.h>

#include "address.h"
#include "net_state.h"

namespace lx::net {

/// What a guest passes an address for.
enum class Use : std::uint8_t {
  kBind,         ///< its own name (bind): a path need not exist yet, any interface is allowed
  kDestination,  ///< where it connects or sends to: a path is followed and pinned
};

/// Which end of a socket a returned address names.
enum class End : std::uint8_t {
  kLocal,  ///< the socket's own name (getsockname)
  kPeer,   ///< the other end (getpeername, the source of a receive, accept)
};

/// Applies the policy and the translation of `state` to an address guest thread `c.tid()` passed,
/// in place: 0, or the errno the call fails with (EACCES off loopback under bind = "loopback").
int translate(const NetState& state, sdk::SyscallContext& c, Address& a, Use use);

/// Rewrites an address the kernel returned into guest terms: a mapped host port becomes the guest
/// port, an AF_UNIX host path the guest path, a path outside the guest's world unnamed.
void to_guest(const NetState& state, Address& a, End end);

/// Opens the socket at `host` (a translated AF_UNIX destination) and names it through
/// /proc/self/fd in `a`, so that the call reaches exactly the socket the translation found: a guest
/// that swaps a directory or the socket for a symlink meanwhile cannot send it anywhere else.
/// 0, ENOENT when it moved under us, ECONNREFUSED when it is not a socket, or open's errno.
int pin_destination(const std::string& host, Address& a);

}  // namespace lx::net
