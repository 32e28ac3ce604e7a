// The signal calls that need more than a member check: kill(2) to a process group or to -1 is
// delivered, on behalf of the guest, to the instance's members only. (tkill, tgkill,
// rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open and pidfd_send_signal are member checks: see
// confine.cpp and the table.)
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "base/proc_status.h"
#include "handlers.h"

namespace lx::signal {

using sdk::SyscallContext;
using sdk::SyscallResult;

namespace {

// Whether `pid` is a zombie whose parent is a member (so it was one: it cannot have been reused
// while unreaped).
bool zombie_of_member(const Members& m, pid_t pid) {
  auto st = ProcStatus::read(pid);
  if (!st || st->state().value_or('?') != 'Z') return false;
  pid_t parent = st->ppid().value_or(0);
  return parent > 0 && m.contains(parent);
}

}  // namespace

// Implements kill(2).
SyscallResult handle_kill(Members& m, SyscallContext& c) {
  pid_t pid = c.pid_arg(0);
  int sig = c.int_arg(1);
  if (pid > 0) {
    // A child that has exited and is not yet reaped is no member any more, but natively it can
    // still be signalled (nothing is delivered): 0, after the signal's own check.
    if (!m.contains(pid) && zombie_of_member(m, pid))
      return sig < 0 || sig >= NSIG ? sdk::fail(EINVAL) : SyscallResult::value(0);
    return member_or_esrch(m, pid);
  }
  if (pid == INT_MIN) return sdk::fail(ESRCH);  // as the kernel: -INT_MIN names no group (and is no int)
  if (sig < 0 || sig >= NSIG) return sdk::fail(EINVAL);
  // A group, or everybody: delivered to the instance's members of it, on the guest's behalf.
  pid_t self = c.pid();
  pid_t pgid = pid == 0 ? getpgid(self) : pid == -1 ? 0 : -pid;
  int sent = 0;
  for (pid_t p : m.processes(pgid)) {
    if (pid == -1 && p == self) continue;  // kill(-1) spares the caller
    if (::kill(p, sig) == 0) ++sent;
  }
  return sent ? SyscallResult::value(0) : sdk::fail(ESRCH);
}

}  // namespace lx::signal
