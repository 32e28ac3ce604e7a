// The signal family's table: every call that names a process, with its route and handler.
// A target decided on integer arguments alone (0 for the caller) stays in the kernel; the rest
// come to the handlers of handlers.h.
#include "signal_table.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <vector>

#include "handlers.h"

namespace lx::signal {
namespace {

namespace sys = sdk::sys;
using namespace sdk::policy;  // NOLINT: the table reads as bpf_dsl
using sdk::Policy;
constexpr auto kFull = sdk::Support::kFull;
constexpr auto kConfined = When::kConfined;

// Argument 0 is a pid; 0 (the caller) is decided in the kernel.
const Policy kSelfInKernel = If(Arg<int>(0) == 0, Allow()).Else(Notify());
// getpriority/setpriority and ioprio_get/ioprio_set of the caller itself stay in the kernel.
const Policy kPrioSelfInKernel =
    If(Arg<int>(0) == static_cast<int>(PRIO_PROCESS) && Arg<int>(1) == 0, Allow()).Else(Notify());
const Policy kIoprioSelfInKernel = If(Arg<int>(0) == kIoprioWhoProcess && Arg<int>(1) == 0, Allow()).Else(Notify());

constexpr const char* kTargets = "targets outside the instance: ESRCH";
constexpr const char* kPids = "pids outside the instance: ESRCH";
constexpr const char* kPidfd = "a pidfd of a process outside the instance: ESRCH";
constexpr const char* kSelf = "pids outside the instance: ESRCH; 0 (the caller) in the kernel";
constexpr const char* kPrio =
    "PRIO_PROCESS outside the instance: ESRCH; PRIO_PGRP and PRIO_USER cover the instance's members only";
constexpr const char* kIoprio =
    "IOPRIO_WHO_PROCESS outside the instance: ESRCH; IOPRIO_WHO_PGRP and IOPRIO_WHO_USER cover the instance's "
    "members only";

const std::vector<SignalRow> kTable = {
    // Signals.
    {kConfined, {sys::kill, Notify(), handle_kill, kFull, "process groups and -1: delivered to the instance's members only"}},
    {kConfined, {sys::tkill, Notify(), first_pid_member, kFull, kTargets}},
    {kConfined, {sys::tgkill, Notify(), both_pids_members, kFull, kTargets}},
    {kConfined, {sys::rt_sigqueueinfo, Notify(), first_pid_member, kFull, kTargets}},
    {kConfined, {sys::rt_tgsigqueueinfo, Notify(), both_pids_members, kFull, kTargets}},
    {kConfined, {sys::pidfd_open, Notify(), first_pid_member, kFull, kTargets}},
    {kConfined, {sys::pidfd_send_signal, Notify(), pidfd_member, kFull,
                 "a pidfd or /proc/<pid> of a process outside the instance: ESRCH"}},

    // Calls naming a process.
    {kConfined, {sys::ptrace, Error(EPERM), nullptr, sdk::Support::kErrno,
                 "EPERM for every request: the driver traces the guest, and a process has one tracer"}},
    {kConfined, {sys::process_vm_readv, Notify(), first_pid_member, kFull, kPids}},
    {kConfined, {sys::process_vm_writev, Notify(), first_pid_member, kFull, kPids}},
    {kConfined, {sys::kcmp, Notify(), both_pids_members, kFull, kPids}},
    {kConfined, {sys::pidfd_getfd, Notify(), pidfd_member, kFull, kPidfd}},
    {kConfined, {sys::process_madvise, Notify(), pidfd_member, kFull, kPidfd}},
    {kConfined, {sys::process_mrelease, Notify(), pidfd_member, kFull, kPidfd}},
    {kConfined, {sys::setns, Notify(), pidfd_member, kFull,
                 "a pidfd of a process outside the instance: ESRCH; namespace fds native"}},
    {kConfined, {sys::prlimit64, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_setparam, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_getparam, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_setscheduler, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_getscheduler, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_rr_get_interval, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_setaffinity, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_getaffinity, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_setattr, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::sched_getattr, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::get_robust_list, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::migrate_pages, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::move_pages, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::getpgid, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::getsid, kSelfInKernel, first_pid_member, kFull, kSelf}},
    {kConfined, {sys::getpriority, kPrioSelfInKernel, handle_getpriority, kFull, kPrio}},
    {kConfined, {sys::setpriority, kPrioSelfInKernel, handle_setpriority, kFull, kPrio}},
    {kConfined, {sys::ioprio_get, kIoprioSelfInKernel, handle_ioprio_get, kFull, kIoprio}},
    {kConfined, {sys::ioprio_set, kIoprioSelfInKernel, handle_ioprio_set, kFull, kIoprio}},
    {kConfined, {sys::perf_event_open,
                 If(Arg<int>(1) == 0 && (Arg<unsigned>(4) & unsigned{PERF_FLAG_PID_CGROUP}) == 0u, Allow())
                     .Else(Notify()),
                 handle_perf_event_open, kFull,
                 "pids outside the instance: ESRCH; all processes of a CPU or a cgroup: EACCES"}},
    // Calls the kernel already limits to the caller's own children or threads, all members.
    {kConfined, {sys::wait4, Allow(), nullptr, kFull, "the kernel limits it to the caller's children (members)"}},
    {kConfined, {sys::waitid, Allow(), nullptr, kFull,
                 "P_PID/P_PGID/P_PIDFD: the kernel limits it to the caller's children (members)"}},
    {kConfined, {sys::timer_create, Allow(), nullptr, kFull,
                 "SIGEV_THREAD_ID: the kernel limits it to the caller's own threads"}},

    // Owners of I/O signals and process groups: only the commands that set one leave the kernel.
    {kConfined, {sys::fcntl, If(Arg<int>(1) == F_SETOWN, Notify()).ElseIf(Arg<int>(1) == F_SETOWN_EX, Notify()).Else(Allow()),
                 handle_fcntl, kFull,
                 "F_SETOWN/F_SETOWN_EX: owners outside the instance (a pid, or a group with any) ESRCH; other "
                 "commands native in the kernel"}},
    {kConfined, {sys::ioctl,
                 If(Arg<int>(1) == FIOSETOWN, Notify())
                     .ElseIf(Arg<int>(1) == SIOCSPGRP, Notify())
                     .ElseIf(Arg<int>(1) == TIOCSPGRP, Notify())
                     .ElseIf(Arg<int>(1) == TIOCSTI, Error(EIO))
                     .Else(Allow()),
                 handle_ioctl, kFull,
                 "FIOSETOWN/SIOCSPGRP: owners outside the instance ESRCH; TIOCSPGRP: groups of the instance only "
                 "(EPERM); TIOCSTI EIO, as where the kernel has no legacy TIOCSTI (it would type into the shell that "
                 "launched the guest, which runs outside the instance); other commands native in the kernel"}},
    {kConfined, {sys::setpgid, If(Arg<int>(0) == 0 && Arg<int>(1) == 0, Allow()).Else(Notify()), handle_setpgid,
                 kFull, "pids outside the instance: ESRCH; groups outside it: EPERM; setpgid(0, 0) in the kernel"}},

    // Capabilities, when no plugin emulates them (the proc family's fake root confines capget itself).
    {When::kCapsNotEmulated, {sys::capget, Notify(), handle_capget, kFull, kPids}},
    {When::kCapsetNative, {sys::capset, Allow(), nullptr, kFull,
                              "the kernel limits it to the caller (EPERM otherwise)"}},
};

}  // namespace

std::span<const SignalRow> signal_table() { return kTable; }

}  // namespace lx::signal
