// Socket addresses between a guest and the kernel: one read once from the guest (the kernel's
// move_addr_to_kernel), one written back to it (move_addr_to_user), and what an address is
// (loopback, any, its port).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>

#include <lxhost/syscall_context.h>

#include "base/unique_fd.h"

namespace lx::net {

/// A socket address read once from the guest (or received for it), and, for a translated AF_UNIX
/// destination, the O_PATH fd of the socket it names; for an AF_UNIX name to bind in the guest's
/// own view (kernel backend), the directory it is bound in (the address then holds the last
/// component).
struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
  UniqueFd pin;
  UniqueFd dir;
  std::string guest_path;  ///< an AF_UNIX path translated to the host's: the guest's own
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss); }
  sockaddr_un* un() { return reinterpret_cast<sockaddr_un*>(&ss); }
};

/// Whether `ss` is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104); true for any
/// family that is not IP.
bool is_loopback(const sockaddr_storage& ss) noexcept;

/// Whether `ss` is INADDR_ANY or ::.
bool is_any(const sockaddr_storage& ss) noexcept;

/// The port of an AF_INET or AF_INET6 address (network order), or nullptr.
in_port_t* port_of(sockaddr_storage& ss) noexcept;

/// Reads a sockaddr of `len` bytes at guest address `addr` into `a`, once: 0, EINVAL for a length
/// the kernel refuses, EFAULT.
int read_addr(sdk::SyscallContext& c, std::uint64_t addr, std::uint64_t len, Address& a) noexcept;

/// Reads the guest's socklen_t at `len_at` that says how much room an address may take: 0, EFAULT,
/// or EINVAL when negative.
int read_room(sdk::SyscallContext& c, std::uint64_t len_at, socklen_t& room) noexcept;

/// Writes a returned address to the guest as the kernel's move_addr_to_user does: as much as fits
/// in the `room` bytes at `addr`, then its full length at `len_at` (a socklen_t). 0 or EFAULT.
int give_address(sdk::SyscallContext& c, const Address& a, std::uint64_t addr, socklen_t room,
                 std::uint64_t len_at) noexcept;

}  // namespace lx::net
