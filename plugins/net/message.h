// Messages a guest sends or receives on its behalf: its buffers (iovec arrays copied in and out
// of its memory as the kernel clamps them), and a message to send read once from its msghdr —
// the destination checked and translated, the control data with our copies of its SCM_RIGHTS fds.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <lxhost/syscall_context.h>

#include "address.h"
#include "base/unique_fd.h"
#include "guest_socket.h"
#include "net_state.h"

namespace lx::net {

/// The largest message copied whole (a datagram; a stream's MSG_WAITALL receive).
inline constexpr std::size_t kMaxMessage = 8u << 20;
/// Stream data is sent in rounds of this much.
inline constexpr std::size_t kChunk = 1u << 20;
/// The most control data one message carries (the kernel's optmem_max is 20 KiB to 128 KiB).
inline constexpr std::size_t kMaxControl = 128u << 10;
/// The kernel's MSG_CMSG_COMPAT: refused from a 64-bit caller.
inline constexpr int kMsgCmsgCompat = static_cast<int>(0x80000000u);
/// The kernel's MAX_RW_COUNT: no call moves more bytes.
inline constexpr std::size_t kMaxRw = INT_MAX & ~std::size_t{4095};

/// Reads the guest's iovec array of `count` entries at `base`, each length clamped as the kernel
/// does, their sum in `total`: 0, EMSGSIZE past UIO_MAXIOV, EINVAL for a negative length, EFAULT.
int read_iov(sdk::SyscallContext& c, const void* base, std::size_t count, std::vector<iovec>& iov,
             std::size_t& total);

/// The one guest buffer of `len` bytes at `addr` (send, sendto, recvfrom), clamped as the kernel
/// does: EINVAL for a negative length.
int single_iov(std::uint64_t addr, std::uint64_t len, std::vector<iovec>& iov, std::size_t& total);

/// Copies `len` bytes of the guest buffers `iov`, from byte `offset` on, into `out`: 0 or EFAULT.
int gather(sdk::SyscallContext& c, const std::vector<iovec>& iov, std::size_t offset, char* out, std::size_t len);

/// Copies `len` bytes from `in` into the guest buffers `iov`: 0 or EFAULT.
int scatter(sdk::SyscallContext& c, const std::vector<iovec>& iov, const char* in, std::size_t len);

/// One message a guest sends, read once from its memory: the destination (checked and
/// translated), its buffers, and its control data with our copies of the fds it carries.
struct OutMessage {
  Address name;
  bool named = false;
  std::vector<iovec> iov;
  std::size_t total = 0;
  std::vector<char> control;
  std::vector<UniqueFd> rights;
};

/// Checks and translates under `state` the destination of `m`, sent on socket `s`: 0 or the errno
/// the call fails with. A stream AF_UNIX socket refuses any address (EISCONN/EOPNOTSUPP): the
/// kernel says so itself.
int check_destination(const NetState& state, sdk::SyscallContext& c, const GuestSocket& s, OutMessage& m);

/// Reads message header `mh` of a send on socket `s`: the destination (checked and translated
/// under `state`), the buffers, the control data (the guest's fds swapped for ours). 0 or the errno
/// the call fails with.
int read_out_message(const NetState& state, sdk::SyscallContext& c, GuestSocket& s, const msghdr& mh,
                     OutMessage& m);

/// One message received on behalf of the guest: its source (kernel terms), its control data
/// (sized by the caller to the room the guest gave, empty for none; resized to what came), and
/// the message flags.
struct InMessage {
  Address from;
  std::vector<char> control;
  int flags = 0;
};

}  // namespace lx::net
