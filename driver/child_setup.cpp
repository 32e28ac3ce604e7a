// The pre-exec steps of a guest's first process (see child_setup.h).
#include "driver/child_setup.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace lx::driver {

ChildSetup child_setup_of(const LaunchSpec& spec) {
  ChildSetup s;
  for (std::size_t i = 0; i < spec.stdio.size() && i < 3; ++i) s.stdio[i] = spec.stdio[i];
  s.new_session = spec.new_session;
  s.only_stdio = spec.only_stdio;
  s.set_signals = spec.set_signals;
  sigemptyset(&s.blocked);
  for (int sig : spec.ignored_signals)
    if (sig > 0 && sig <= 64 && sig != SIGKILL && sig != SIGSTOP) s.ignored |= 1ULL << (sig - 1);
  for (int sig : spec.blocked_signals)
    if (sig > 0 && sig <= 64) sigaddset(&s.blocked, sig);
  return s;
}

namespace {

// Child: undoes the parent's signal handlers until exec (which would reset them anyway); the
// mask and ignored signals are inherited as a native exec inherits them.
void reset_handlers() noexcept {
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa;
    if (sigaction(s, nullptr, &sa) == 0 && sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL) {
      sa.sa_handler = SIG_DFL;
      sa.sa_flags = 0;
      sigaction(s, &sa, nullptr);
    }
  }
}

// Child: the client's dispositions, through the raw syscall, which also reaches the signals glibc
// keeps for itself.
void set_dispositions(std::uint64_t ignored) noexcept {
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    std::uint64_t mask;
  } ksa{};
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ksa.handler = (ignored >> (sig - 1)) & 1 ? SIG_IGN : SIG_DFL;
    syscall(SYS_rt_sigaction, sig, &ksa, nullptr, sizeof ksa.mask);
  }
}

}  // namespace

void prepare_child(const ChildSetup& p) noexcept {
  reset_handlers();
  // The standard fds given (a client's terminal or pipes): moved out of the way first, so that
  // one given as 1 is not overwritten by the dup2 onto 0.
  int moved[3];
  for (int i = 0; i < 3; ++i) moved[i] = p.stdio[i] >= 0 ? fcntl(p.stdio[i], F_DUPFD_CLOEXEC, 10) : -1;
  for (int i = 0; i < 3; ++i)
    if (moved[i] >= 0 && dup2(moved[i], i) < 0) _exit(125);
  if (p.only_stdio) syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  if (p.new_session) {
    setsid();
    if (isatty(0)) ioctl(0, TIOCSCTTY, 0);
  }
  if (p.set_signals) set_dispositions(p.ignored);
}

}  // namespace lx::driver
