// On-behalf socket I/O for the net family: the guest's socket as an fd of ours, waiting on it as
// the guest's own blocking call would (ended by the guest's signals and its death), and the
// ancillary data a guest sends made safe to send from this process (its SCM_RIGHTS fds swapped
// for ours, its SCM_CREDENTIALS checked against its own identity).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include <lxhost/syscall_context.h>

namespace lx::net {

/// The kernel's ERESTARTSYS: a call cut short by a signal returns it, and the kernel then either
/// restarts the call (SA_RESTART) or gives the guest EINTR, exactly as for a native call.
inline constexpr int kRestartSys = 512;

/// An fd that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  /// The fd, or -1.
  int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

/// A pidfd of guest process `pid`, or -errno.
int open_pidfd(pid_t pid) noexcept;

/// The guest's fd `fd` (through `pidfd`) as an fd of ours on the same open file, or -errno
/// (EBADF when the guest has no such fd).
int take_guest_fd(int pidfd, int fd) noexcept;

/// Whether a signal waits for guest thread `tid` that it does not block: a call done on its behalf
/// must end so that the kernel can deliver it. A signal sent to the whole process counts only when
/// the process has one thread (else another thread may take it).
bool signal_pending(pid_t tid) noexcept;

/// What waiting for a socket ended with.
enum class WaitEnd : std::uint8_t {
  kReady,    ///< the socket has the events asked for
  kSignal,   ///< the guest thread has a signal to take
  kGone,     ///< the guest is no longer waiting for this call (killed)
  kTimeout,  ///< the socket's SO_RCVTIMEO/SO_SNDTIMEO passed
};

/// Waits until `fd` has `events` as a blocking call of guest thread `ctx.tid()` would, at most
/// `timeout_ms` (negative: no limit).
WaitEnd wait_socket(sdk::SyscallContext& ctx, int fd, short events, int timeout_ms) noexcept;

/// The socket's SO_RCVTIMEO (`optname`) or SO_SNDTIMEO in milliseconds, -1 when unset.
int socket_timeout_ms(int fd, int optname) noexcept;

/// Makes the control data `control` a guest wants to send safe to send from this process. It is
/// walked exactly as the kernel walks it (a header it would refuse gives EINVAL here, so no header
/// is read differently by the kernel): the guest fds of every SCM_RIGHTS are taken from the guest
/// (`pidfd`) and replaced by ours, which `taken` keeps open until the message is sent; an
/// SCM_CREDENTIALS must name the guest's own pid and one of its uids and gids (EPERM otherwise) and
/// is then passed as given. Returns 0 or an errno (EBADF for an fd the guest does not have).
int adopt_control(sdk::SyscallContext& ctx, int pidfd, std::vector<char>& control, std::vector<Fd>& taken) noexcept;

}  // namespace lx::net
