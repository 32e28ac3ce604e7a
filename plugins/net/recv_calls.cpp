// The net family's receives: recvfrom, recvmsg and recvmmsg done on behalf of the guest where the
// source address differs between host and guest (a port map, AF_UNIX paths in the guest root), so
// that it gets the source in guest terms; natively otherwise. A blocking receive waits as the
// guest's own would, ended by its signals and its death.
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <memory>

#include "guest_socket.h"
#include "handlers.h"
#include "message.h"
#include "socket_io.h"
#include "translate.h"

namespace lx::net {
namespace {

constexpr long kNanos = 1000000000L;

// Receives into `len` bytes at `data` from `s` without waiting; the first piece gives the source,
// control data and flags of `in`. What recvmsg returns (-1 with errno).
ssize_t recv_piece(GuestSocket& s, char* data, std::size_t len, bool first, int flags, InMessage& in) {
  iovec v{data, len};
  msghdr h{};
  h.msg_iov = &v;
  h.msg_iovlen = 1;
  if (first) {
    h.msg_name = in.from.sa();
    h.msg_namelen = sizeof in.from.ss;
  }
  if (first && !in.control.empty()) {
    h.msg_control = in.control.data();
    h.msg_controllen = in.control.size();
  }
  ssize_t n = ::recvmsg(s.fd.get(), &h, (flags & ~MSG_WAITALL) | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n >= 0 && first) {
    in.from.len = h.msg_namelen;
    in.control.resize(in.control.empty() ? 0 : h.msg_controllen);
    in.flags = h.msg_flags;
  }
  return n;
}

// Receives one message on behalf of the guest into its buffers `iov` (`total` bytes) as its own
// call would, its source, control data and flags in `in`. Bytes received (the datagram's length
// with MSG_TRUNC), or -errno.
std::int64_t recv_message(SyscallContext& c, GuestSocket& s, const std::vector<iovec>& iov, std::size_t total,
                          int flags, InMessage& in) {
  if (flags & kMsgCmsgCompat) return -EINVAL;
  bool stream = s.type == SOCK_STREAM;
  bool waitall = stream && (flags & MSG_WAITALL) && !(flags & MSG_PEEK);
  bool blocking = !s.nonblocking && !(flags & (MSG_DONTWAIT | MSG_ERRQUEUE));  // MSG_ERRQUEUE never waits
  SocketWait wait(c, s.fd.get(), POLLIN, blocking ? socket_timeout_ms(s.fd.get(), SO_RCVTIMEO) : 0, kReceivePause);
  // Not zeroed: a large buffer costs only the pages the kernel fills.
  std::size_t size = std::min(total, kMaxMessage);
  std::unique_ptr<char[]> buf(new char[size ? size : 1]);
  std::size_t got = 0;
  std::int64_t result = 0;
  for (bool first = true;;) {
    ssize_t n = recv_piece(s, buf.get() + got, size - got, first, flags, in);
    if (n >= 0) {
      first = false;
      wait.progressed();
      got += static_cast<std::size_t>(n);
      if (stream && n != 0 && waitall && got != size) continue;
      result = stream ? static_cast<std::int64_t>(got) : n;
      break;
    }
    int e = errno;
    if (e == EAGAIN && blocking) {
      WaitEnd w = wait.after_refusal();
      if (w == WaitEnd::kReady) continue;
      e = wait.errno_of(w);
    }
    if (!got) {
      if (first) in.control.clear();
      return -e;
    }
    result = static_cast<std::int64_t>(got);
    break;
  }
  // With MSG_TRUNC a stream socket discards the data: the guest's buffer stays as it was.
  std::size_t copy = stream && (flags & MSG_TRUNC) ? 0 : std::min<std::size_t>(static_cast<std::size_t>(result), size);
  if (int e = scatter(c, iov, buf.get(), copy); e != 0) return -e;
  return result;
}

// Whether a receive into `mh` on `s` may bring fds: they would need guest fd numbers, and the
// SDK's install_fd completes the call, so such a receive runs natively.
bool may_carry_fds(const GuestSocket& s, const msghdr& mh) {
  return s.domain == AF_UNIX && mh.msg_control && mh.msg_controllen;
}

// Receives into the guest's message header `mh` (at `at`) on behalf of the guest and writes
// back its source, lengths and flags. Bytes received or -errno.
std::int64_t recv_into(const NetState& state, SyscallContext& c, GuestSocket& s, const msghdr& mh, std::uint64_t at,
                       int flags) {
  if (static_cast<int>(mh.msg_namelen) < 0) return -EINVAL;
  std::vector<iovec> iov;
  std::size_t total = 0;
  if (int e = read_iov(c, mh.msg_iov, mh.msg_iovlen, iov, total); e != 0) return -e;
  InMessage in;
  if (mh.msg_control && mh.msg_controllen) in.control.resize(std::min(mh.msg_controllen, kMaxControl));
  std::int64_t n = recv_message(c, s, iov, total, flags, in);
  if (n < 0) return n;
  to_guest(state, in.from, End::kPeer);
  if (give_address(c, in.from, reinterpret_cast<std::uint64_t>(mh.msg_name), mh.msg_namelen,
                   at + offsetof(msghdr, msg_namelen)) != 0)
    return -EFAULT;
  if (!in.control.empty() &&
      c.write_memory(reinterpret_cast<std::uint64_t>(mh.msg_control), in.control.data(), in.control.size()) != 0)
    return -EFAULT;
  std::size_t clen = in.control.size();
  if (c.write(at + offsetof(msghdr, msg_controllen), clen) != 0) return -EFAULT;
  if (c.write(at + offsetof(msghdr, msg_flags), in.flags) != 0) return -EFAULT;
  return n;
}

// The timeout of a recvmmsg: checked after each message, and what is left of it.
struct Deadline {
  bool timed = false;
  timespec end{};
  timespec left{};

  // Reads the guest's timeout at `addr` (0: none): 0, EFAULT or EINVAL.
  int start(SyscallContext& c, std::uint64_t addr) {
    timed = addr != 0;
    if (!timed) return 0;
    if (c.read(addr, left) != 0) return EFAULT;
    if (left.tv_sec < 0 || left.tv_nsec < 0 || left.tv_nsec >= kNanos) return EINVAL;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += left.tv_sec;
    end.tv_nsec += left.tv_nsec;
    if (end.tv_nsec >= kNanos) end.tv_sec++, end.tv_nsec -= kNanos;
    return 0;
  }
  // Whether the timeout has passed (what is left of it, then, in `left`).
  bool passed() {
    if (!timed) return false;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (static_cast<long long>(end.tv_sec) - now.tv_sec) * kNanos + (end.tv_nsec - now.tv_nsec);
    if (ns < 0) ns = 0;
    left.tv_sec = static_cast<time_t>(ns / kNanos);
    left.tv_nsec = static_cast<long>(ns % kNanos);
    return ns == 0;
  }
};

// Reads the first `vlen` headers of the guest's mmsghdr array at `vec` into `msgs`, up to the
// first it cannot read: whether all `vlen` were read.
bool read_headers(SyscallContext& c, std::uint64_t vec, std::uint64_t vlen, std::vector<mmsghdr>& msgs) {
  msgs.reserve(vlen);
  for (std::uint64_t i = 0; i < vlen; ++i) {
    mmsghdr e;
    if (c.read(vec + i * sizeof(mmsghdr), e) != 0) return false;
    msgs.push_back(e);
  }
  return true;
}

bool wants_source(const msghdr& mh) { return mh.msg_name && mh.msg_namelen; }

}  // namespace

// Implements recvfrom(2) with a source address wanted (without one it runs natively, in the
// kernel): on behalf where the address differs between host and guest.
SyscallResult handle_recvfrom(NetState& state, SyscallContext& c) {
  std::uint64_t addr = c.ptr(4);
  if (addr == 0) return SyscallResult::continue_native();  // decided in the kernel already
  GuestSocket s;
  if (auto end = open_returning_socket(state, c, s)) return *end;
  // As natively, an unreadable or negative address length fails the call after the receive.
  socklen_t room = 0;
  int room_error = read_room(c, c.ptr(5), room);
  std::vector<iovec> iov;
  std::size_t total = 0;
  if (int e = single_iov(c.ptr(1), c.uint_arg(2), iov, total); e != 0) return sdk::fail(e);
  InMessage in;
  std::int64_t n = recv_message(c, s, iov, total, c.flags(3), in);
  if (n < 0) return sdk::fail(static_cast<int>(-n));
  if (room_error) return sdk::fail(room_error);
  to_guest(state, in.from, End::kPeer);
  if (int e = give_address(c, in.from, addr, room, c.ptr(5)); e != 0) return sdk::fail(e);
  return SyscallResult::value(n);
}

// Implements recvmsg(2): on behalf when the source differs between host and guest and no fds
// can come with the message; natively otherwise.
SyscallResult handle_recvmsg(NetState& state, SyscallContext& c) {
  msghdr mh;
  if (c.read(c.ptr(1), mh) != 0) return sdk::fail(EFAULT);
  if (!wants_source(mh)) return SyscallResult::continue_native();
  GuestSocket s;
  if (auto end = open_returning_socket(state, c, s)) return *end;
  if (may_carry_fds(s, mh)) return SyscallResult::continue_native();
  std::int64_t n = recv_into(state, c, s, mh, c.ptr(1), c.flags(2));
  return n < 0 ? sdk::fail(static_cast<int>(-n)) : SyscallResult::value(n);
}

// Implements recvmmsg(2) as recvmsg, message by message: MSG_WAITFORONE, the timeout checked
// after each message (and what is left of it written back), an error only when the first fails.
SyscallResult handle_recvmmsg(NetState& state, SyscallContext& c) {
  std::uint64_t vec = c.ptr(1);
  std::uint64_t vlen = std::min<std::uint64_t>(static_cast<unsigned>(c.uint_arg(2)), UIO_MAXIOV);
  std::vector<mmsghdr> msgs;
  bool all_read = read_headers(c, vec, vlen, msgs);
  if (std::none_of(msgs.begin(), msgs.end(), [](const mmsghdr& m) { return wants_source(m.msg_hdr); }))
    return SyscallResult::continue_native();
  GuestSocket s;
  if (auto end = open_returning_socket(state, c, s)) return *end;
  for (const auto& m : msgs)
    if (may_carry_fds(s, m.msg_hdr)) return SyscallResult::continue_native();
  Deadline deadline;
  if (int e = deadline.start(c, c.ptr(4)); e != 0) return sdk::fail(e);
  int flags = c.flags(3);
  std::int64_t count = 0;
  int err = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    int f = flags & ~MSG_WAITFORONE;
    if (i > 0 && (flags & MSG_WAITFORONE)) f |= MSG_DONTWAIT;
    std::uint64_t at = vec + i * sizeof(mmsghdr);
    std::int64_t n = recv_into(state, c, s, msgs[i].msg_hdr, at + offsetof(mmsghdr, msg_hdr), f);
    if (n < 0) err = static_cast<int>(-n);
    else if (c.write(at + offsetof(mmsghdr, msg_len), static_cast<unsigned>(n)) != 0) err = EFAULT;
    if (err) break;
    ++count;
    if (deadline.passed()) break;
  }
  if (!err && !all_read && static_cast<std::size_t>(count) == msgs.size()) err = EFAULT;
  if (count && deadline.timed && c.write(c.ptr(4), deadline.left) != 0) return sdk::fail(EFAULT);
  return batch_result(count, err);
}

}  // namespace lx::net
