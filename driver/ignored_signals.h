// Signals a guest ignores, under ptrace. The kernel drops a signal its receiver ignores (SIG_IGN,
// or SIG_DFL where the default action is to ignore: SIGCHLD, SIGURG, SIGWINCH, SIGCONT) before
// it is queued, but not for a traced task (sig_ignored() is false under ptrace, so that the
// tracer sees it): on the emulated backend every guest is traced, and such a signal wakes it.
// A wait the kernel does not restart then fails with EINTR where natively it goes on waiting:
// every exiting child's SIGCHLD interrupted its parent's sigtimedwait or epoll_wait.
//
// The tracer drops such a signal at its delivery stop, and where it had interrupted
// rt_sigtimedwait, epoll_wait, epoll_pwait or epoll_pwait2 with EINTR (the only signal that woke
// the thread), rewinds the call so that it is made again, with what is left of its timeout:
// counted from the first interruption (when the call began is not known), so the wait ends at
// most that much late, never early, and a stream of ignored signals cannot make it endless.
// Other calls keep the EINTR (a socket's receive timeout cannot be shortened from here).
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <chrono>
#include <cstdint>
#include <unordered_map>

namespace lx::driver {

/// What to do at a signal-delivery-stop.
struct SignalDecision {
  int deliver = 0;         ///< the signal to resume with (0: dropped)
  bool restarted = false;  ///< the interrupted call was rewound to be made again
};

/// The tracer's side, one per trace channel (its thread only).
class IgnoredSignals {
 public:
  /// At the signal-delivery-stop of thread `tid` for `sig`. `handler_ran`: the previous stop of
  /// this thread delivered a signal (a handler's frame may be on top of the interrupted call,
  /// whose registers are then no longer the call's): the signal is dropped, nothing is rewound.
  SignalDecision at_stop(pid_t tid, int sig, bool handler_ran) noexcept;
  /// Thread `tid` ended.
  void forget(pid_t tid) noexcept { calls_.erase(tid); }

 private:
  struct Interrupted {
    std::chrono::steady_clock::time_point first;  // the first interruption
    std::int64_t timeout_ns = -1;                 // what the guest asked (-1: none, wait forever)
    std::uint64_t marker = 0;                     // the timeout argument the rewound call got
  };
  bool rewind(pid_t tid, user_regs_struct& regs) noexcept;

  std::unordered_map<pid_t, Interrupted> calls_;
};

/// Whether a thread whose status shows `ignored` (SigIgn) and `caught` (SigCgt) ignores `sig`.
bool ignores(int sig, unsigned long long ignored, unsigned long long caught) noexcept;

}  // namespace lx::driver
