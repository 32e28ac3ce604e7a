// Socket addresses between a guest and the kernel (see address.h).
#include "address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>

namespace lx::net {

bool is_loopback(const sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
    return false;
  }
  return true;  // other families are not IP
}

bool is_any(const sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (ss.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
  return false;
}

in_port_t* port_of(sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET) return &reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  if (ss.ss_family == AF_INET6) return &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port;
  return nullptr;
}

int read_addr(sdk::SyscallContext& c, std::uint64_t addr, std::uint64_t len, Address& a) noexcept {
  if (len > sizeof a.ss) return EINVAL;
  if (len < sizeof(sa_family_t)) return EINVAL;
  a.len = static_cast<socklen_t>(len);
  return c.read_memory(addr, &a.ss, len);
}

int read_room(sdk::SyscallContext& c, std::uint64_t len_at, socklen_t& room) noexcept {
  if (c.read(len_at, room) != 0) return EFAULT;
  return static_cast<int>(room) < 0 ? EINVAL : 0;
}

int give_address(sdk::SyscallContext& c, const Address& a, std::uint64_t addr, socklen_t room,
                 std::uint64_t len_at) noexcept {
  socklen_t n = std::min(a.len, room);
  if (n && c.write_memory(addr, &a.ss, n) != 0) return EFAULT;
  return c.write(len_at, a.len) != 0 ? EFAULT : 0;
}

}  // namespace lx::net
