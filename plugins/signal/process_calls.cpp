// The calls that name processes by process group or uid (priorities, I/O priorities) or reach
// beyond one process (perf_event_open): each reaches only the instance's processes. Process
// groups and uids are served on the guest's behalf, over the instance's members of them only
// (as kill(-pgid) is). (Calls naming one pid or pidfd are member checks: see confine.cpp.)
#include <linux/perf_event.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "handlers.h"

namespace lx::signal {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

// The members a PRIO_PGRP/PRIO_USER (or IOPRIO_WHO_PGRP/USER) call covers; `who` 0 is the
// caller's own group or real uid, as natively.
std::vector<pid_t> covered(const Members& m, SyscallContext& c, bool group, int who) {
  if (group) return m.threads_in_group(who != 0 ? who : getpgid(c.pid()));
  uid_t uid = static_cast<uid_t>(who);
  if (who == 0) uid = real_uid(c.tid()).value_or(getuid());
  return m.threads_of_uid(uid);
}

// getpriority(2) and setpriority(2): PRIO_PROCESS on a member runs natively; a process group or
// a user covers the instance's members of it.
SyscallResult priority(const Members& m, SyscallContext& c, bool set) {
  int which = c.int_arg(0);
  pid_t who = c.pid_arg(1);
  if (which == PRIO_PROCESS) return member_or_esrch(m, who);
  if (which != PRIO_PGRP && which != PRIO_USER) return SyscallResult::continue_native();  // EINVAL
  // PRIO_USER of an invalid uid (-1) covers nobody: ESRCH below, as natively.
  int nice = set ? c.int_arg(2) : 0;
  int err = ESRCH;
  long best = -1;
  for (pid_t t : covered(m, c, which == PRIO_PGRP, who)) {
    long r = set ? syscall(sdk::sys::setpriority, PRIO_PROCESS, t, nice)
                 : syscall(sdk::sys::getpriority, PRIO_PROCESS, t);  // raw: 20 - nice, never negative
    if (r < 0) {
      if (errno != ESRCH) err = errno;  // as natively, a refused member is reported
      continue;
    }
    if (err == ESRCH) err = 0;
    best = std::max(best, r);
  }
  if (!set) return best >= 0 ? SyscallResult::value(best) : sdk::fail(ESRCH);
  return err ? sdk::fail(err) : SyscallResult::value(0);
}

// The better of two I/O priorities, as the kernel's ioprio_best() for IOPRIO_WHO_PGRP/USER.
long ioprio_best(long a, long b) {
  // linux/ioprio.h's values: since 6.1.192, Debian's header is C only (a parameter named class).
  constexpr int kClassShift = 13, kClassNone = 0, kClassBestEffort = 2;
  constexpr long kDefault = (kClassBestEffort << kClassShift) | 4;
  if ((a >> kClassShift) == kClassNone) a = kDefault;
  if ((b >> kClassShift) == kClassNone) b = kDefault;
  return std::min(a, b);
}

// ioprio_get(2) and ioprio_set(2), as priority() does for nice values.
SyscallResult ioprio(const Members& m, SyscallContext& c, bool set) {
  int which = c.int_arg(0);
  pid_t who = c.pid_arg(1);
  if (which == kIoprioWhoProcess) return member_or_esrch(m, who);
  if (which != kIoprioWhoPgrp && which != kIoprioWhoUser) return SyscallResult::continue_native();  // EINVAL
  int prio = set ? c.int_arg(2) : 0;
  long result = -ESRCH;
  for (pid_t t : covered(m, c, which == kIoprioWhoPgrp, who)) {
    long r = set ? syscall(sdk::sys::ioprio_set, kIoprioWhoProcess, t, prio)
                 : syscall(sdk::sys::ioprio_get, kIoprioWhoProcess, t);
    if (r < 0) {
      if (errno == ESRCH) continue;
      if (set) return sdk::fail(errno);  // the kernel stops at the first refusal
      if (result == -ESRCH) result = -errno;
      continue;
    }
    result = set || result < 0 ? r : ioprio_best(result, r);
  }
  return result < 0 ? sdk::fail(static_cast<int>(-result)) : SyscallResult::value(result);
}

}  // namespace

// Implements getpriority(2).
SyscallResult handle_getpriority(Members& m, SyscallContext& c) { return priority(m, c, false); }

// Implements setpriority(2).
SyscallResult handle_setpriority(Members& m, SyscallContext& c) { return priority(m, c, true); }

// Implements ioprio_get(2).
SyscallResult handle_ioprio_get(Members& m, SyscallContext& c) { return ioprio(m, c, false); }

// Implements ioprio_set(2).
SyscallResult handle_ioprio_set(Members& m, SyscallContext& c) { return ioprio(m, c, true); }

// Implements perf_event_open(2)'s target: the caller or a member; every process on a CPU or a
// cgroup reaches outside the instance and is refused as an unprivileged user is.
SyscallResult handle_perf_event_open(Members& m, SyscallContext& c) {
  pid_t pid = c.pid_arg(1);
  int cpu = c.int_arg(2);
  if (c.flags<unsigned long>(4) & PERF_FLAG_PID_CGROUP) return sdk::fail(EACCES);
  if (pid == -1) return cpu == -1 ? SyscallResult::continue_native() : sdk::fail(EACCES);
  return member_or_esrch(m, pid);
}

}  // namespace lx::signal
