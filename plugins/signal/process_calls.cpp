// The calls that name a process by pid, pgid, uid or pidfd (other than signals): each reaches
// only the instance's processes. A pid of the caller (0) is let through in the kernel; other
// pids are checked against the members and then run natively; process groups and uids are
// served on the guest's behalf, over the instance's members of them only (as kill(-pgid) is).
#include <linux/ioprio.h>
#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "claims.h"

namespace lx::signal {
namespace {

using sdk::Route;
using sdk::Support;
using sdk::SyscallContext;
using sdk::SyscallResult;

// The `which` values of ioprio_get/set (linux/ioprio.h has them only in newer headers as enums).
constexpr int kIoprioWhoProcess = 1, kIoprioWhoPgrp = 2, kIoprioWhoUser = 3;

// The members a PRIO_PGRP/PRIO_USER (or IOPRIO_WHO_PGRP/USER) call covers; `who` 0 is the
// caller's own group or real uid, as natively.
std::vector<pid_t> covered(const Members& m, SyscallContext& c, bool group, std::uint64_t who_arg) {
  auto who = static_cast<int>(who_arg);
  if (group) return m.threads_in_group(who != 0 ? who : getpgid(c.pid()));
  uid_t uid = static_cast<uid_t>(who);
  if (who == 0) uid = real_uid(c.tid()).value_or(getuid());
  return m.threads_of_uid(uid);
}

// Implements getpriority(2) and setpriority(2): PRIO_PROCESS on a member runs natively; a
// process group or a user covers the instance's members of it.
SyscallResult priority_(const Members& m, SyscallContext& c, bool set) {
  int which = static_cast<int>(c.arg(0));
  if (which == PRIO_PROCESS) return member_or_esrch(m, static_cast<pid_t>(c.arg(1)));
  if (which != PRIO_PGRP && which != PRIO_USER) return SyscallResult::continue_native();  // EINVAL
  if (which == PRIO_USER && static_cast<int>(c.arg(1)) < 0) return SyscallResult::error(EINVAL);
  int err = ESRCH;
  long best = -1;
  for (pid_t t : covered(m, c, which == PRIO_PGRP, c.arg(1))) {
    long r = set ? syscall(SYS_setpriority, PRIO_PROCESS, t, static_cast<int>(c.arg(2)))
                 : syscall(SYS_getpriority, PRIO_PROCESS, t);  // raw: 20 - nice, never negative
    if (r < 0) {
      if (errno != ESRCH) err = errno;  // as natively, a refused member is reported
      continue;
    }
    if (err == ESRCH) err = 0;
    best = std::max(best, r);
  }
  if (!set) return best >= 0 ? SyscallResult::value(best) : SyscallResult::error(ESRCH);
  return err ? SyscallResult::error(err) : SyscallResult::value(0);
}

// The better of two I/O priorities, as the kernel's ioprio_best() for IOPRIO_WHO_PGRP/USER.
long ioprio_best(long a, long b) {
  constexpr long kDefault = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 4;
  if ((a >> IOPRIO_CLASS_SHIFT) == IOPRIO_CLASS_NONE) a = kDefault;
  if ((b >> IOPRIO_CLASS_SHIFT) == IOPRIO_CLASS_NONE) b = kDefault;
  return std::min(a, b);
}

// Implements ioprio_get(2) and ioprio_set(2), as priority_ does for nice values.
SyscallResult ioprio_(const Members& m, SyscallContext& c, bool set) {
  int which = static_cast<int>(c.arg(0));
  if (which == kIoprioWhoProcess) return member_or_esrch(m, static_cast<pid_t>(c.arg(1)));
  if (which != kIoprioWhoPgrp && which != kIoprioWhoUser) return SyscallResult::continue_native();  // EINVAL
  long result = -ESRCH;
  for (pid_t t : covered(m, c, which == kIoprioWhoPgrp, c.arg(1))) {
    long r = set ? syscall(SYS_ioprio_set, kIoprioWhoProcess, t, static_cast<int>(c.arg(2)))
                 : syscall(SYS_ioprio_get, kIoprioWhoProcess, t);
    if (r < 0) {
      if (errno == ESRCH) continue;
      if (set) return SyscallResult::error(errno);  // the kernel stops at the first refusal
      if (result == -ESRCH) result = -errno;
      continue;
    }
    result = set || result < 0 ? r : ioprio_best(result, r);
  }
  return result < 0 ? SyscallResult::error(static_cast<int>(-result)) : SyscallResult::value(result);
}

// Implements perf_event_open(2)'s target: the caller or a member; every process on a CPU or a
// cgroup reaches outside the instance and is refused as an unprivileged user is.
SyscallResult perf_event_open_(const Members& m, SyscallContext& c) {
  auto pid = static_cast<pid_t>(c.arg(1));
  int cpu = static_cast<int>(c.arg(2));
  if (c.arg(4) & PERF_FLAG_PID_CGROUP) return SyscallResult::error(EACCES);
  if (pid == -1) return cpu == -1 ? SyscallResult::continue_native() : SyscallResult::error(EACCES);
  return member_or_esrch(m, pid);
}

// Implements setns(2) through a pidfd: only a member's namespaces can be joined.
SyscallResult setns_(const Members& m, SyscallContext& c) {
  return pidfd_member_or_esrch(m, c, static_cast<int>(c.arg(0)));
}

}  // namespace

std::vector<Claim> process_claims(Members& m) {
  std::vector<Claim> out;
  const char* note = "pids outside the instance: ESRCH; 0 (the caller) in the kernel";
  auto pid_arg = [&m](int arg) {
    return [&m, arg](SyscallContext& c) { return member_or_esrch(m, static_cast<pid_t>(c.arg(arg))); };
  };
  // A call whose argument `arg` is a pid where 0 means the caller: 0 stays in the kernel.
  auto self_or_member = [&](int nr, int arg, std::string n = {}) {
    Claim cl = notify(nr, n.empty() ? note : n, pid_arg(arg));
    cl.spec.arg_rules.push_back(allow_when({arg_eq(arg, 0)}));
    out.push_back(std::move(cl));
  };

  out.push_back(kernel(SYS_ptrace, Route::kErrno, EPERM,
                       "EPERM for every request: the driver traces the guest, and a process has one tracer",
                       Support::kErrno));
  out.push_back(notify(SYS_process_vm_readv, "pids outside the instance: ESRCH", pid_arg(0)));
  out.push_back(notify(SYS_process_vm_writev, "pids outside the instance: ESRCH", pid_arg(0)));
  out.push_back(notify(SYS_kcmp, "pids outside the instance: ESRCH", [&m](SyscallContext& c) {
    return member_or_esrch(m, static_cast<pid_t>(c.arg(0)), static_cast<pid_t>(c.arg(1)));
  }));
  auto by_pidfd = [&m](SyscallContext& c) { return pidfd_member_or_esrch(m, c, static_cast<int>(c.arg(0))); };
  out.push_back(notify(SYS_pidfd_getfd, "a pidfd of a process outside the instance: ESRCH", by_pidfd));
  out.push_back(notify(SYS_process_madvise, "a pidfd of a process outside the instance: ESRCH", by_pidfd));
  out.push_back(notify(SYS_process_mrelease, "a pidfd of a process outside the instance: ESRCH", by_pidfd));
  out.push_back(notify(SYS_setns, "a pidfd of a process outside the instance: ESRCH; namespace fds native",
                       [&m](SyscallContext& c) { return setns_(m, c); }));

  self_or_member(SYS_prlimit64, 0);
  for (int nr : {SYS_sched_setparam, SYS_sched_getparam, SYS_sched_setscheduler, SYS_sched_getscheduler,
                 SYS_sched_rr_get_interval, SYS_sched_setaffinity, SYS_sched_getaffinity, SYS_sched_setattr,
                 SYS_sched_getattr})
    self_or_member(nr, 0);
  self_or_member(SYS_get_robust_list, 0);
  self_or_member(SYS_migrate_pages, 0);
  self_or_member(SYS_move_pages, 0);
  self_or_member(SYS_getpgid, 0);
  self_or_member(SYS_getsid, 0);

  // Priorities: the caller's own (PRIO_PROCESS, 0) stays in the kernel.
  const char* prio_note =
      "PRIO_PROCESS outside the instance: ESRCH; PRIO_PGRP and PRIO_USER cover the instance's members only";
  for (bool set : {false, true}) {
    Claim cl = notify(set ? SYS_setpriority : SYS_getpriority, prio_note,
                      [&m, set](SyscallContext& c) { return priority_(m, c, set); });
    cl.spec.arg_rules.push_back(allow_when({arg_eq(0, PRIO_PROCESS), arg_eq(1, 0)}));
    out.push_back(std::move(cl));
    Claim io = notify(set ? SYS_ioprio_set : SYS_ioprio_get,
                      "IOPRIO_WHO_PROCESS outside the instance: ESRCH; IOPRIO_WHO_PGRP and IOPRIO_WHO_USER "
                      "cover the instance's members only",
                      [&m, set](SyscallContext& c) { return ioprio_(m, c, set); });
    io.spec.arg_rules.push_back(allow_when({arg_eq(0, kIoprioWhoProcess), arg_eq(1, 0)}));
    out.push_back(std::move(io));
  }

  Claim perf = notify(SYS_perf_event_open,
                      "pids outside the instance: ESRCH; all processes of a CPU or a cgroup: EACCES",
                      [&m](SyscallContext& c) { return perf_event_open_(m, c); });
  sdk::ArgCondition no_cgroup;
  no_cgroup.arg = 4;
  no_cgroup.op = sdk::ArgCondition::Op::kMaskedEq;
  no_cgroup.mask = PERF_FLAG_PID_CGROUP;
  no_cgroup.value = 0;
  perf.spec.arg_rules.push_back(allow_when({arg_eq(1, 0), no_cgroup}));
  out.push_back(std::move(perf));

  // Calls the kernel already limits to the caller's own children or threads, all members.
  out.push_back(kernel(SYS_wait4, Route::kAllow, 0, "the kernel limits it to the caller's children (members)",
                       Support::kFull));
  out.push_back(kernel(SYS_waitid, Route::kAllow, 0,
                       "P_PID/P_PGID/P_PIDFD: the kernel limits it to the caller's children (members)",
                       Support::kFull));
  out.push_back(kernel(SYS_timer_create, Route::kAllow, 0,
                       "SIGEV_THREAD_ID: the kernel limits it to the caller's own threads", Support::kFull));
  return out;
}

}  // namespace lx::signal
