// The syscalls the signal family takes on to keep a guest inside its instance, one function per
// topic: signals (signal_calls.cpp), calls naming a process (process_calls.cpp), and owners of
// I/O signals and process groups (owner_calls.cpp). Every target is decided once, on the
// integer arguments or on a copy of the memory they point to; a target outside the instance
// gets ESRCH, as from outside a PID namespace, and a target inside runs natively.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <lxhost/plugin.h>

#include "members.h"

namespace lx::signal {

/// One syscall taken on: its spec (route, kernel-side rules, note) and its handler.
struct Claim {
  sdk::SyscallSpec spec;             ///< what the compatibility table and the filter get
  sdk::PluginBase::Handler handler;  ///< empty for kernel-only routes
};

/// kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal, pidfd_open.
std::vector<Claim> signal_claims(Members& members);
/// ptrace, process_vm_*, pidfd_getfd, process_madvise/mrelease, kcmp, prlimit64, priorities,
/// sched_* with a pid, ioprio, robust lists, migrate/move_pages, perf_event_open, getpgid,
/// getsid, setns, and the calls the kernel already limits (wait4, waitid, timer_create).
std::vector<Claim> process_claims(Members& members);
/// fcntl F_SETOWN/F_SETOWN_EX, ioctl FIOSETOWN/SIOCSPGRP/TIOCSPGRP, setpgid.
std::vector<Claim> owner_claims(Members& members);
/// capget (and capset's row) when no other plugin emulates capabilities.
std::vector<Claim> capability_claims(Members& members);

// Helpers shared by the topic files.

/// A NOTIFY claim with one note.
Claim notify(int nr, std::string note, sdk::PluginBase::Handler h, sdk::Support support = sdk::Support::kFull);
/// A claim the kernel decides (kAllow/kErrno) with a note, for the compatibility table.
Claim kernel(int nr, sdk::Route route, int errno_value, std::string note, sdk::Support support);
/// A kernel-side condition "argument `arg` (32 bits) == value".
sdk::ArgCondition arg_eq(int arg, std::uint64_t value);
/// A rule that lets the call run natively in the kernel when all `conds` hold.
sdk::ArgRule allow_when(std::vector<sdk::ArgCondition> conds);

/// ESRCH unless `a` (and `b`, when > 0) are members; a pid <= 0 runs natively (the kernel's own
/// answer: the caller itself or EINVAL/ESRCH).
sdk::SyscallResult member_or_esrch(const Members& m, pid_t a, pid_t b = 0);
/// The same for the process a pidfd `fd` of the calling thread refers to.
sdk::SyscallResult pidfd_member_or_esrch(const Members& m, sdk::SyscallContext& c, int fd);
/// A copy of the guest's fd `fd` in this process (pidfd_getfd), or -errno.
int copy_guest_fd(pid_t pid, int fd);

}  // namespace lx::signal
