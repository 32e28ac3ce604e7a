// The handlers of the signal family, one group per topic file: signals (signal_calls.cpp), calls
// naming a process (process_calls.cpp), owners of I/O signals and process groups
// (owner_calls.cpp), capget (capability_calls.cpp), and the checks they share (confine.cpp).
// Every target is decided once, on the integer arguments or on a copy of the memory they point
// to; a target outside the instance gets ESRCH, as from outside a PID namespace, and a target
// inside runs natively. The rows that route the calls here are in signal_table.cpp.
#pragma once

#include <sys/types.h>

#include <lxhost/plugin.h>

#include "members.h"

namespace lx::signal {

/// The `which` values of ioprio_get/set (older linux/ioprio.h lacks them; newer has them as enums).
inline constexpr int kIoprioWhoProcess = 1, kIoprioWhoPgrp = 2, kIoprioWhoUser = 3;

/// A handler of the table: one guest thread's call, checked against the instance's members.
using Handler = sdk::SyscallResult(Members& m, sdk::SyscallContext& c);

/// kill(2) (signal_calls.cpp): a pid must be a member; a group and -1 reach the instance's
/// members only.
Handler handle_kill;
/// getpriority(2), setpriority(2), ioprio_get(2) and ioprio_set(2) over the instance's members,
/// and perf_event_open(2)'s target (process_calls.cpp).
Handler handle_getpriority, handle_setpriority, handle_ioprio_get, handle_ioprio_set, handle_perf_event_open;
/// Owners of I/O signals and process groups (owner_calls.cpp): fcntl(2) F_SETOWN/F_SETOWN_EX,
/// ioctl(2) FIOSETOWN/SIOCSPGRP/TIOCSPGRP, setpgid(2) within the instance.
Handler handle_fcntl, handle_ioctl, handle_setpgid;
/// capget(2) when no plugin emulates capabilities (capability_calls.cpp): pids outside the
/// instance get ESRCH.
Handler handle_capget;

// Calls naming one process, and the checks the topic files share (confine.cpp).

/// ESRCH unless argument 0, a pid (> 0), is a member (tkill, prlimit64, sched_*...).
Handler first_pid_member;
/// ESRCH unless arguments 0 and 1, pids, are members (tgkill, rt_tgsigqueueinfo, kcmp).
Handler both_pids_members;
/// ESRCH unless argument 0, a pidfd, names a member (pidfd_send_signal, pidfd_getfd, setns...).
Handler pidfd_member;
/// ESRCH unless `a` (and `b`, when > 0) are members; a pid <= 0 runs natively (the kernel's own
/// answer: the caller itself or EINVAL/ESRCH).
sdk::SyscallResult member_or_esrch(const Members& m, pid_t a, pid_t b = 0);
/// The same for the process a pidfd `fd` of the calling thread refers to.
sdk::SyscallResult pidfd_member_or_esrch(const Members& m, sdk::SyscallContext& c, int fd);
/// A copy of the guest's fd `fd` in this process (pidfd_getfd), or -errno.
int copy_guest_fd(pid_t pid, int fd);

}  // namespace lx::signal
