// Signals a guest ignores, under ptrace. The kernel drops a signal its receiver ignores (SIG_IGN,
// or SIG_DFL where the default action is to ignore: SIGCHLD, SIGURG, SIGWINCH, SIGCONT) before
// it is queued, but not for a traced task (sig_ignored() is false under ptrace, so that the
// tracer sees it): on the emulated backend every guest is traced, and such a signal wakes it.
// A wait the kernel does not restart (sigtimedwait, epoll_wait, io_getevents, semtimedop, a
// socket with a receive timeout...) then fails with EINTR where natively it goes on waiting:
// every exiting child's SIGCHLD interrupted its parent's event loop.
//
// The tracer drops such a signal at its delivery stop, and where it had interrupted a call with
// EINTR (the only signal that woke the thread), rewinds the call so that it is made again, as
// the kernel itself restarts a call on a signal that runs no handler. A relative timeout then
// starts over: the wait can last longer than asked, never end early or fail.
#pragma once

#include <sys/types.h>

namespace lx::driver {

/// What to do at a signal-delivery-stop.
struct SignalDecision {
  int deliver = 0;         ///< the signal to resume with (0: dropped)
  bool restarted = false;  ///< the interrupted call was rewound to be made again
};

/// At the signal-delivery-stop of thread `tid` for `sig`. `handler_ran`: the previous stop of
/// this thread delivered a signal (a handler's frame may be on top of the interrupted call, whose
/// registers are then no longer the call's): the signal is dropped but nothing is rewound.
SignalDecision at_signal_stop(pid_t tid, int sig, bool handler_ran) noexcept;

/// Whether a thread whose status shows `ignored` (SigIgn) and `caught` (SigCgt) ignores `sig`.
bool ignores(int sig, unsigned long long ignored, unsigned long long caught) noexcept;

}  // namespace lx::driver
