// On-behalf socket I/O for the net family: the guest's socket as an fd of ours, waiting on it as
// the guest's own blocking call would (ended by the guest's signals and its death), and the
// ancillary data a guest sends made safe to send from this process (its SCM_RIGHTS fds swapped
// for ours, its SCM_CREDENTIALS checked against its own identity).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include <lxhost/syscall_context.h>

#include "base/unique_fd.h"

namespace lx::net {

/// The kernel's ERESTARTSYS: a call cut short by a signal returns it, and the kernel then either
/// restarts the call (SA_RESTART) or gives the guest EINTR, exactly as for a native call.
inline constexpr int kRestartSys = 512;

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

/// How a wait on behalf of the guest ended, as the errno of a call that moved nothing (0 for
/// kReady): EAGAIN past the socket's timeout, and for a signal EINTR or, without a timeout, the
/// restart the kernel's sock_intr_errno() asks for.
int wait_errno(WaitEnd w, int timeout_ms) noexcept;

/// The waits of one blocking call done on behalf of guest thread `ctx.tid()` on socket `fd`: the
/// first tells the driver that the handler blocks, and a call refused again right after a wait
/// that said ready pauses instead of spinning.
class SocketWait {
 public:
  /// How a refusal right after a wait that said ready is waited out.
  struct Pause {
    int max_us;      ///< the pause starts at 1 ms and doubles up to this
    bool then_poll;  ///< after the pause, wait for the socket again (else try at once)
  };
  SocketWait(sdk::SyscallContext& ctx, int fd, short events, int timeout_ms, Pause pause) noexcept
      : ctx_(ctx), fd_(fd), events_(events), timeout_ms_(timeout_ms), pause_(pause) {}
  /// Waits for the socket (wait_socket).
  WaitEnd wait() noexcept;
  /// Waits after the socket refused with EAGAIN: kReady to try again.
  WaitEnd after_refusal() noexcept;
  /// The call moved data: the next refusal waits for the socket again.
  void progressed() noexcept {
    spun_ = false;
    pause_us_ = kFirstPauseUs;
  }
  /// wait_errno() of `w` under this wait's timeout.
  int errno_of(WaitEnd w) const noexcept { return wait_errno(w, timeout_ms_); }

 private:
  static constexpr int kFirstPauseUs = 1000;
  sdk::SyscallContext& ctx_;
  int fd_;
  short events_;
  int timeout_ms_;
  Pause pause_;
  int pause_us_ = kFirstPauseUs;
  bool told_ = false;
  bool spun_ = false;
};

/// A send refused again after a wait that said ready pauses longer each time, then tries again.
inline constexpr SocketWait::Pause kSendPause{20000, false};
/// A receive (or accept) refused again after a wait that said ready pauses 1 ms, then waits again.
inline constexpr SocketWait::Pause kReceivePause{1000, true};

/// Makes the control data `control` a guest wants to send safe to send from this process. It is
/// walked exactly as the kernel walks it (a header it would refuse gives EINVAL here, so no header
/// is read differently by the kernel): the guest fds of every SCM_RIGHTS are taken from the guest
/// (`pidfd`) and replaced by ours, which `taken` keeps open until the message is sent; an
/// SCM_CREDENTIALS must name the guest's own pid and one of its uids and gids (EPERM otherwise) and
/// is then passed as given. Returns 0 or an errno (EBADF for an fd the guest does not have).
int adopt_control(sdk::SyscallContext& ctx, int pidfd, std::vector<char>& control,
                  std::vector<UniqueFd>& taken) noexcept;

}  // namespace lx::net
