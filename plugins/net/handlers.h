// The handlers of the net family's table (net_table.cpp), one per syscall it takes on: calls
// that carry an address done on behalf of the guest, with the address read once, checked and
// translated; calls that return one giving it in guest terms. Each runs on the family's state.
#pragma once

#include <cstdint>

#include <lxhost/plugin.h>

#include "net_state.h"

namespace lx::net {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Addresses (address_calls.cpp).
SyscallResult handle_bind(NetState& state, SyscallContext& c);
SyscallResult handle_connect(NetState& state, SyscallContext& c);
/// Implements getsockopt(2) of SO_PEERCRED: the guest that connected, where lx connected for it.
SyscallResult handle_peercred(NetState& state, SyscallContext& c);
SyscallResult handle_accept(NetState& state, SyscallContext& c);
SyscallResult handle_accept4(NetState& state, SyscallContext& c);
SyscallResult handle_getsockname(NetState& state, SyscallContext& c);
SyscallResult handle_getpeername(NetState& state, SyscallContext& c);

// Sends (send_calls.cpp).
SyscallResult handle_sendto(NetState& state, SyscallContext& c);
SyscallResult handle_sendmsg(NetState& state, SyscallContext& c);
SyscallResult handle_sendmmsg(NetState& state, SyscallContext& c);

// Receives (recv_calls.cpp).
SyscallResult handle_recvfrom(NetState& state, SyscallContext& c);
SyscallResult handle_recvmsg(NetState& state, SyscallContext& c);
SyscallResult handle_recvmmsg(NetState& state, SyscallContext& c);

/// What a call on a batch of messages (sendmmsg, recvmmsg) returns: the number done, or the error
/// that stopped the first one.
inline SyscallResult batch_result(std::int64_t done, int err) {
  if (done) return SyscallResult::value(done);
  return err ? sdk::fail(err) : SyscallResult::value(0);
}

}  // namespace lx::net
