// The net family's sends: sendto with a destination, sendmsg and sendmmsg, done on behalf of the
// guest on its own socket with the destination read once, checked and translated, and the fds its
// SCM_RIGHTS carry taken from it; a blocking send waits as the guest's own would.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

#include "guest_socket.h"
#include "handlers.h"
#include "message.h"
#include "socket_io.h"

namespace lx::net {
namespace {

// Sends `len` bytes at `data` on `s` without waiting; the first piece of `m` carries its
// destination and control data. What sendmsg returns (-1 with errno).
ssize_t send_piece(GuestSocket& s, OutMessage& m, char* data, std::size_t len, bool first, int flags) {
  iovec v{data, len};
  msghdr h{};
  h.msg_iov = &v;
  h.msg_iovlen = 1;
  if (first && m.named) {
    h.msg_name = m.name.sa();
    h.msg_namelen = m.name.len;
  }
  if (first && !m.control.empty()) {
    h.msg_control = m.control.data();
    h.msg_controllen = m.control.size();
  }
  return ::sendmsg(s.fd.get(), &h, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
}

// Sends `m` on behalf of the guest as its own call would: bytes sent, or -errno (kRestartSys
// when a signal for the guest ended a blocking send before anything went).
std::int64_t send_message(SyscallContext& c, GuestSocket& s, OutMessage& m, int flags) {
  if (flags & kMsgCmsgCompat) return -EINVAL;
  bool stream = s.type == SOCK_STREAM;
  bool blocking = !s.nonblocking && !(flags & MSG_DONTWAIT);
  if (!stream && m.total > kMaxMessage) return -EMSGSIZE;
  SocketWait wait(c, s.fd.get(), POLLOUT, blocking ? socket_timeout_ms(s.fd.get(), SO_SNDTIMEO) : 0, kSendPause);
  std::vector<char> buf;
  std::size_t sent = 0;
  auto so_far = [&sent](int e) { return sent ? static_cast<std::int64_t>(sent) : -e; };
  bool first = true;
  while (first || sent < m.total) {
    std::size_t want = stream ? std::min(kChunk, m.total - sent) : m.total;
    buf.resize(want);
    if (int e = gather(c, m.iov, sent, buf.data(), want); e != 0) return so_far(e);
    std::size_t off = 0;
    while (first || off < want) {
      ssize_t n = send_piece(s, m, buf.data() + off, want - off, first, flags);
      if (n >= 0) {
        first = false;
        wait.progressed();
        if (!stream) return n;
        off += static_cast<std::size_t>(n);
        sent += static_cast<std::size_t>(n);
        continue;
      }
      int e = errno;
      if (e != EAGAIN || !blocking) return so_far(e);
      if (WaitEnd w = wait.after_refusal(); w != WaitEnd::kReady) return so_far(wait.errno_of(w));
    }
  }
  return static_cast<std::int64_t>(sent);
}

// Sends `m` as the guest's call and gives its result: a broken pipe is also the guest thread's
// SIGPIPE, as natively, unless it passed MSG_NOSIGNAL (ours always does: never this process).
SyscallResult send_as_guest(SyscallContext& c, GuestSocket& s, OutMessage& m, int flags) {
  std::int64_t n = send_message(c, s, m, flags);
  if (n >= 0) return SyscallResult::value(n);
  int err = static_cast<int>(-n);
  if (err == EPIPE && !(flags & MSG_NOSIGNAL)) tgkill(c.pid(), c.tid(), SIGPIPE);
  return sdk::fail(err);
}

}  // namespace

// Implements sendto(2) with a destination (without one it runs natively, in the kernel).
SyscallResult handle_sendto(NetState& state, SyscallContext& c) {
  std::uint64_t dest = c.ptr(4);
  if (dest == 0) return SyscallResult::continue_native();  // decided in the kernel already
  GuestSocket s;
  if (int e = open_socket(c, c.fd(0), s); e != 0) return sdk::fail(e);
  OutMessage m;
  if (int e = read_addr(c, dest, c.uint_arg(5), m.name); e != 0) return sdk::fail(e);
  m.named = true;
  if (int e = check_destination(state, c, s, m); e != 0) return sdk::fail(e);
  if (int e = single_iov(c.ptr(1), c.uint_arg(2), m.iov, m.total); e != 0) return sdk::fail(e);
  return send_as_guest(c, s, m, c.flags(3));
}

// Implements sendmsg(2) on behalf of the guest: the destination checked and translated, the
// control data's fds the guest's own.
SyscallResult handle_sendmsg(NetState& state, SyscallContext& c) {
  GuestSocket s;
  if (int e = open_socket(c, c.fd(0), s); e != 0) return sdk::fail(e);
  msghdr mh;
  if (c.read(c.ptr(1), mh) != 0) return sdk::fail(EFAULT);
  OutMessage m;
  if (int e = read_out_message(state, c, s, mh, m); e != 0) return sdk::fail(e);
  return send_as_guest(c, s, m, c.flags(2));
}

// Implements sendmmsg(2): each message as sendmsg; the number sent, an error only when the
// first one fails, msg_len filled for each one sent.
SyscallResult handle_sendmmsg(NetState& state, SyscallContext& c) {
  GuestSocket s;
  if (int e = open_socket(c, c.fd(0), s); e != 0) return sdk::fail(e);
  std::uint64_t vec = c.ptr(1);
  std::uint64_t vlen = std::min<std::uint64_t>(static_cast<unsigned>(c.uint_arg(2)), UIO_MAXIOV);
  int flags = c.flags(3);
  std::int64_t sent = 0;
  int err = 0;
  for (std::uint64_t i = 0; i < vlen && err == 0; ++i) {
    std::uint64_t at = vec + i * sizeof(mmsghdr);
    mmsghdr e;
    OutMessage m;
    if (c.read(at, e) != 0) {
      err = EFAULT;
    } else if (err = read_out_message(state, c, s, e.msg_hdr, m); err == 0) {
      SyscallResult r = send_as_guest(c, s, m, flags);
      if (r.kind() == SyscallResult::Kind::kError) err = r.error();
      else if (c.write(at + offsetof(mmsghdr, msg_len), static_cast<unsigned>(r.value())) != 0) err = EFAULT;
      else ++sent;
    }
  }
  return batch_result(sent, err);
}

}  // namespace lx::net
