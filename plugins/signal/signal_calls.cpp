// The signal calls that need more than a member check: kill(2) to a process group or to -1 is
// delivered, on behalf of the guest, to the instance's members only. (tkill, tgkill,
// rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open and pidfd_send_signal are member checks: see
// confine.cpp and the table.)
#include <linux/capability.h>
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

// Whether guest thread `c.tid()` may send `sig` to process `target`, as the kernel's
// check_kill_permission: the same process, CAP_KILL, a real or effective uid that is the
// target's real or saved one, or SIGCONT within the session. True when nothing is known to check.
bool may_signal(Members& m, SyscallContext& c, pid_t target, int sig) {
  if (!m.creds || target == c.pid()) return true;
  sdk::ThreadCredentials s, t;
  if (!m.creds->thread_credentials(c.tid(), s)) return false;
  if ((s.cap_eff >> CAP_KILL) & 1) return true;
  if (!m.creds->thread_credentials(target, t)) return true;  // gone: the kernel's ESRCH follows
  if (s.euid == t.suid || s.euid == t.ruid || s.ruid == t.suid || s.ruid == t.ruid) return true;
  return sig == SIGCONT && getsid(target) == getsid(c.pid());
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
    if (m.emulated && m.contains(pid) && !may_signal(m, c, pid, sig)) return sdk::fail(EPERM);
    return member_or_esrch(m, pid);
  }
  if (pid == INT_MIN) return sdk::fail(ESRCH);  // as the kernel: -INT_MIN names no group (and is no int)
  if (sig < 0 || sig >= NSIG) return sdk::fail(EINVAL);
  // A group, or everybody: delivered to the instance's members of it, on the guest's behalf.
  pid_t self = c.pid();
  pid_t pgid = pid == 0 ? getpgid(self) : pid == -1 ? 0 : -pid;
  int sent = 0, refused = 0;
  for (pid_t p : m.processes(pgid)) {
    if (pid == -1 && p == self) continue;  // kill(-1) spares the caller
    if (!may_signal(m, c, p, sig)) {
      ++refused;
      continue;
    }
    if (::kill(p, sig) == 0) ++sent;
  }
  // As the kernel: success when one was signalled, EPERM when only refusals were met.
  return sent ? SyscallResult::value(0) : sdk::fail(refused ? EPERM : ESRCH);
}

}  // namespace lx::signal
