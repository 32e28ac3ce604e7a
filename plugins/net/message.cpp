// Messages a guest sends or receives on its behalf (see message.h).
#include "message.h"

#include <sys/types.h>

#include <algorithm>
#include <cerrno>

#include "socket_io.h"
#include "translate.h"

namespace lx::net {

int read_iov(sdk::SyscallContext& c, const void* base, std::size_t count, std::vector<iovec>& iov,
             std::size_t& total) {
  if (count > UIO_MAXIOV) return EMSGSIZE;
  iov.resize(count);
  if (count && c.read_memory(reinterpret_cast<std::uint64_t>(base), iov.data(), count * sizeof(iovec)) != 0)
    return EFAULT;
  total = 0;
  for (auto& v : iov) {
    if (static_cast<ssize_t>(v.iov_len) < 0) return EINVAL;
    v.iov_len = std::min(v.iov_len, kMaxRw - total);  // as the kernel clamps
    total += v.iov_len;
  }
  return 0;
}

int single_iov(std::uint64_t addr, std::uint64_t len, std::vector<iovec>& iov, std::size_t& total) {
  if (static_cast<ssize_t>(len) < 0) return EINVAL;
  iov.assign(1, iovec{reinterpret_cast<void*>(addr), std::min<std::size_t>(len, kMaxRw)});
  total = iov[0].iov_len;
  return 0;
}

int gather(sdk::SyscallContext& c, const std::vector<iovec>& iov, std::size_t offset, char* out, std::size_t len) {
  for (const auto& v : iov) {
    if (len == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    std::size_t n = std::min(len, v.iov_len - offset);
    if (int e = c.read_memory(reinterpret_cast<std::uint64_t>(v.iov_base) + offset, out, n); e != 0) return e;
    out += n;
    len -= n;
    offset = 0;
  }
  return 0;
}

int scatter(sdk::SyscallContext& c, const std::vector<iovec>& iov, const char* in, std::size_t len) {
  for (const auto& v : iov) {
    if (len == 0) break;
    std::size_t n = std::min(len, v.iov_len);
    if (n && c.write_memory(reinterpret_cast<std::uint64_t>(v.iov_base), in, n) != 0) return EFAULT;
    in += n;
    len -= n;
  }
  return 0;
}

int check_destination(const NetState& state, sdk::SyscallContext& c, const GuestSocket& s, OutMessage& m) {
  // A stream or seqpacket AF_UNIX socket never looks the address up: the kernel says
  // EOPNOTSUPP/EISCONN (stream) or ENOTCONN (seqpacket, unconnected) or ignores it (connected).
  if (s.domain == AF_UNIX && (s.type == SOCK_STREAM || s.type == SOCK_SEQPACKET)) return 0;
  return translate(state, c, m.name, Use::kDestination);
}

int read_out_message(const NetState& state, sdk::SyscallContext& c, GuestSocket& s, const msghdr& mh,
                     OutMessage& m) {
  if (mh.msg_name && mh.msg_namelen) {
    if (static_cast<int>(mh.msg_namelen) < 0) return EINVAL;
    socklen_t len = std::min<socklen_t>(mh.msg_namelen, sizeof m.name.ss);
    if (c.read_memory(reinterpret_cast<std::uint64_t>(mh.msg_name), &m.name.ss, len) != 0) return EFAULT;
    m.name.len = len;
    m.named = true;
  }
  if (int e = read_iov(c, mh.msg_iov, mh.msg_iovlen, m.iov, m.total); e != 0) return e;
  if (mh.msg_controllen > INT_MAX || mh.msg_controllen > kMaxControl) return ENOBUFS;
  if (mh.msg_controllen) {
    m.control.resize(mh.msg_controllen);
    if (c.read_memory(reinterpret_cast<std::uint64_t>(mh.msg_control), m.control.data(), m.control.size()) != 0)
      return EFAULT;
    if (int e = adopt_control(c, s.pidfd.get(), m.control, m.rights); e != 0) return e;
  }
  return m.named ? check_destination(state, c, s, m) : 0;
}

}  // namespace lx::net
