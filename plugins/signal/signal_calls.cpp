// The signal calls: kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open and
// pidfd_send_signal reach only the instance's processes. Process groups and kill(-1, sig) are
// delivered, on behalf of the guest, to the instance's members only.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "claims.h"

namespace lx::signal {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Implements kill(2).
SyscallResult kill_(Members& m, SyscallContext& c) {
  pid_t pid = static_cast<pid_t>(c.arg(0));
  int sig = static_cast<int>(c.arg(1));
  if (pid > 0) return member_or_esrch(m, pid);
  if (sig < 0 || sig >= NSIG) return SyscallResult::error(EINVAL);
  // A group, or everybody: delivered to the instance's members of it, on the guest's behalf.
  pid_t self = c.pid();
  pid_t pgid = pid == 0 ? getpgid(self) : pid == -1 ? 0 : -pid;
  int sent = 0;
  for (pid_t p : m.processes(pgid)) {
    if (pid == -1 && p == self) continue;  // kill(-1) spares the caller
    if (::kill(p, sig) == 0) ++sent;
  }
  return sent ? SyscallResult::value(0) : SyscallResult::error(ESRCH);
}

}  // namespace

std::vector<Claim> signal_claims(Members& m) {
  const char* note = "targets outside the instance: ESRCH";
  auto one = [&m](int arg) {
    return [&m, arg](SyscallContext& c) { return member_or_esrch(m, static_cast<pid_t>(c.arg(arg))); };
  };
  auto two = [&m](SyscallContext& c) {
    return member_or_esrch(m, static_cast<pid_t>(c.arg(0)), static_cast<pid_t>(c.arg(1)));
  };
  std::vector<Claim> out;
  out.push_back(notify(SYS_kill, "process groups and -1: delivered to the instance's members only",
                       [&m](SyscallContext& c) { return kill_(m, c); }));
  out.push_back(notify(SYS_tkill, note, one(0)));
  out.push_back(notify(SYS_tgkill, note, two));
  out.push_back(notify(SYS_rt_sigqueueinfo, note, one(0)));
  out.push_back(notify(SYS_rt_tgsigqueueinfo, note, two));
  out.push_back(notify(SYS_pidfd_open, note, one(0)));
  out.push_back(notify(SYS_pidfd_send_signal, "a pidfd or /proc/<pid> of a process outside the instance: ESRCH",
                       [&m](SyscallContext& c) { return pidfd_member_or_esrch(m, c, static_cast<int>(c.arg(0))); }));
  return out;
}

}  // namespace lx::signal
