// The net family's calls that name a socket's ends: bind and connect on behalf of the guest with
// the address checked and translated; accept, getsockname and getpeername giving the address in
// guest terms; SO_PEERCRED naming the guest that connected (peer_pids.h).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "address.h"
#include "base/proc_status.h"
#include "guest_socket.h"
#include "guest_view.h"
#include "handlers.h"
#include "peer_pids.h"
#include "socket_io.h"
#include "translate.h"

namespace lx::net {
namespace {

// Opens the socket of argument 0 and reads the address of arguments 1 and 2 (bind, connect),
// checked and translated for `use`: 0 or the errno the call fails with.
int open_with_address(const NetState& state, SyscallContext& c, GuestSocket& s, Address& a, Use use) {
  if (int e = open_socket(c, c.fd(0), s); e != 0) return e;
  if (int e = read_addr(c, c.ptr(1), c.uint_arg(2), a); e != 0) return e;
  // An AF_UNIX address for a socket of another domain: no path to translate, the kernel refuses
  // the family as it is (EAFNOSUPPORT, EINVAL for a short one) without looking at it.
  if (a.ss.ss_family == AF_UNIX && s.domain != AF_UNIX) return 0;
  return translate(state, c, a, use);
}

// The umask of guest thread `tid` (022 when unreadable), which a bind's socket file gets.
mode_t guest_umask_of(pid_t tid) {
  if (auto st = ProcStatus::read(tid))
    if (auto m = st->umask()) return *m;
  return 022;
}

// Accepts a connection on `s` (SOCK_NONBLOCK in `flags` kept) as the guest's own call would wait
// for it, the peer in `peer`: the new fd of ours, or -errno.
int accept_connection(SyscallContext& c, GuestSocket& s, int flags, Address& peer) {
  bool blocking = !s.nonblocking;
  SocketWait wait(c, s.fd.get(), POLLIN, blocking ? socket_timeout_ms(s.fd.get(), SO_RCVTIMEO) : 0, kReceivePause);
  for (;;) {
    if (blocking) {
      // Wait first: accept itself on a blocking socket would wait out of reach of the guest's
      // signals. (Another thread taking the connection between the two still leaves it waiting.)
      pollfd p{s.fd.get(), POLLIN, 0};
      if (poll(&p, 1, 0) <= 0)
        if (WaitEnd w = wait.wait(); w != WaitEnd::kReady) return -wait.errno_of(w);
    }
    peer.len = sizeof peer.ss;
    int conn = ::accept4(s.fd.get(), peer.sa(), &peer.len, (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC);
    if (conn >= 0) return conn;
    if (errno == EAGAIN && blocking) continue;
    return -errno;
  }
}

// Implements accept(2)/accept4(2) with `flags` when the peer address is wanted (without it they
// run natively, in the kernel): on behalf where the address differs between host and guest, the
// new socket installed into the guest with its flags.
SyscallResult accept_with(const NetState& state, SyscallContext& c, int flags) {
  std::uint64_t addr = c.ptr(1);
  if (addr == 0) return SyscallResult::continue_native();  // decided in the kernel already
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return sdk::fail(EINVAL);
  GuestSocket s;
  if (auto end = open_returning_socket(state, c, s)) return *end;
  socklen_t room;
  if (int e = read_room(c, c.ptr(2), room); e != 0) return sdk::fail(e);
  Address peer;
  int conn = accept_connection(c, s, flags, peer);
  if (conn < 0) return sdk::fail(-conn);
  UniqueFd accepted(conn);
  to_guest(state, peer, End::kPeer);
  if (int e = give_address(c, peer, addr, room, c.ptr(2)); e != 0) return sdk::fail(e);
  return c.install_fd(accepted.get(), (flags & SOCK_CLOEXEC) ? O_CLOEXEC : 0);
}

// Implements getsockname(2)/getpeername(2) for `end`: mapped ports and AF_UNIX paths as the guest
// knows them.
SyscallResult socket_name(const NetState& state, SyscallContext& c, End end) {
  GuestSocket s;
  if (int e = open_socket(c, c.fd(0), s); e != 0) return sdk::fail(e);
  socklen_t room;
  if (int e = read_room(c, c.ptr(2), room); e != 0) return sdk::fail(e);
  Address a;
  a.len = sizeof a.ss;
  int rc = end == End::kPeer ? ::getpeername(s.fd.get(), a.sa(), &a.len) : ::getsockname(s.fd.get(), a.sa(), &a.len);
  if (rc != 0) return sdk::fail(errno);
  to_guest(state, a, end);
  if (int e = give_address(c, a, c.ptr(1), room, c.ptr(2)); e != 0) return sdk::fail(e);
  return SyscallResult::value(0);
}

}  // namespace

// Implements bind(2) on behalf of the guest: policy, port map, AF_UNIX path translated (or, under
// the kernel backend, bound in its directory as the guest sees it).
SyscallResult handle_bind(NetState& state, SyscallContext& c) {
  GuestSocket s;
  Address a;
  if (int e = open_with_address(state, c, s, a, Use::kBind); e != 0) return sdk::fail(e);
  if (a.dir && state.kernel) {  // an AF_UNIX name in the guest's own view (kernel backend)
    if (int e = bind_in_dir(s.fd.get(), c.tid(), a); e != 0) return sdk::fail(e);
    return SyscallResult::value(0);
  }
  if (a.dir) {  // a translated AF_UNIX name: bound through lx's fd of its directory
    if (int e = state.bound->bind(s.fd.get(), std::move(a.dir), std::string(a.un()->sun_path), a.guest_path,
                                  guest_umask_of(c.tid()));
        e != 0)
      return sdk::fail(e);
    return SyscallResult::value(0);
  }
  if (::bind(s.fd.get(), a.sa(), a.len) != 0) return sdk::fail(errno);
  return SyscallResult::value(0);
}

// Implements connect(2) on behalf of the guest: policy, port map, AF_UNIX path translated and pinned.
SyscallResult handle_connect(NetState& state, SyscallContext& c) {
  GuestSocket s;
  Address a;
  if (int e = open_with_address(state, c, s, a, Use::kDestination); e != 0) return sdk::fail(e);
  // A blocking TCP connect to another host waits for the handshake; loopback and AF_UNIX
  // connects complete at once (or fail with EINPROGRESS/EAGAIN when non-blocking, as the
  // guest's own call would).
  if (!s.nonblocking && (s.domain == AF_INET || s.domain == AF_INET6) && !is_loopback(a.ss)) c.will_block();
  if (::connect(s.fd.get(), a.sa(), a.len) != 0) return sdk::fail(errno);
  struct stat st;
  if (s.domain == AF_UNIX && s.type != SOCK_DGRAM && fstat(s.fd.get(), &st) == 0)
    state.connectors->record(st.st_ino, c.pid());
  return SyscallResult::value(0);
}

// Implements getsockopt(SOL_SOCKET, SO_PEERCRED) (the only option the table sends here): as the
// kernel answers, with the pid of the guest process that connected where lx connected for it.
SyscallResult handle_peercred(NetState& state, SyscallContext& c) {
  GuestSocket s;
  if (int e = open_socket(c, c.fd(0), s); e != 0) return sdk::fail(e);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(s.fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return sdk::fail(errno);
  struct stat st;
  // (A client that closed before the server asks is no longer found from the server's end: lx's
  // own pid stays then.)
  if (cred.pid == getpid() && fstat(s.fd.get(), &st) == 0)
    if (pid_t guest = state.connectors->find(unix_peer_inode(st.st_ino)); guest > 0) cred.pid = guest;
  int want = 0;
  if (int e = c.read(c.ptr(4), want); e != 0) return sdk::fail(e);
  if (want < 0) return sdk::fail(EINVAL);
  std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(want), sizeof cred);
  if (int e = c.write_memory(c.ptr(3), &cred, n); e != 0) return sdk::fail(e);
  int written = static_cast<int>(n);
  if (int e = c.write_memory(c.ptr(4), &written, sizeof written); e != 0) return sdk::fail(e);
  return SyscallResult::value(0);
}

// Implements accept(2).
SyscallResult handle_accept(NetState& state, SyscallContext& c) { return accept_with(state, c, 0); }

// Implements accept4(2): SOCK_CLOEXEC and SOCK_NONBLOCK kept.
SyscallResult handle_accept4(NetState& state, SyscallContext& c) { return accept_with(state, c, c.flags(3)); }

// Implements getsockname(2).
SyscallResult handle_getsockname(NetState& state, SyscallContext& c) { return socket_name(state, c, End::kLocal); }

// Implements getpeername(2).
SyscallResult handle_getpeername(NetState& state, SyscallContext& c) { return socket_name(state, c, End::kPeer); }

}  // namespace lx::net
